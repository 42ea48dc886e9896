"""The fold's writes to members and their days: one statement each for the whole batch, with
fixed texts and the rows as one JSON parameter (why: `folding.py`)."""

from collections import Counter
from datetime import date

import orjson
import sqlalchemy as sa
from sqlmodel import Session

from services.members.activity.senders import Sender
from services.members.community.models import Member


def write_members(session: Session, members: dict[str, Sender]) -> None:
    """What the fold changed on its members, in one statement, once a batch (their rows are
    locked and were read under the lock, so the values are theirs to write). One UPDATE, not
    one for the counters and another for the points: a member row has a dozen indexes, and
    each version of a row written costs Postgres an entry in every one of them."""
    rows = [
        {
            "i": m.id,
            "n": m.message_count,
            "a": m.last_active_at,
            "s": m.stage,
            "t": m.status,
            "u": m.muted_until,
            "p": m.points,
            "l": m.level,
        }
        for _, m in sorted(members.items())
    ]
    session.execute(_WRITE_MEMBERS, {"rows": orjson.dumps(rows).decode()})


def forget_members(session: Session, members: dict[str, Sender]) -> None:
    """Expire any table object of the batch's members that a handler before the fold loaded
    in this transaction: the fold wrote their rows behind the session's back."""
    for held in list(session.identity_map.values()):
        if isinstance(held, Member) and held.id in members:
            session.expire(held)


def count_days(
    session: Session, counts: Counter[tuple[str, date]], members: dict[str, Sender]
) -> None:
    """Add the batch's messages to each member's days, in one statement."""
    if not counts:
        return
    rows = [
        {
            "m": member_id,
            "d": day,
            "w": members[member_id].workspace_id,
            "c": members[member_id].community_id,
            "n": n,
        }
        for (member_id, day), n in sorted(counts.items())
    ]
    session.execute(_COUNT_DAYS, {"rows": orjson.dumps(rows).decode()})


_WRITE_MEMBERS = sa.text(
    "UPDATE member SET message_count = r.n, last_active_at = r.a, stage = r.s, status = r.t, "
    "muted_until = r.u, points = r.p, level = r.l FROM json_to_recordset(CAST(:rows AS json)) "
    "AS r(i text, n int, a timestamptz, s text, t text, u timestamptz, p int, l int) "
    "WHERE member.id = r.i"
)
# Keys in order: two batches upserting the same days lock them in the same order.
_COUNT_DAYS = sa.text(
    "INSERT INTO member_activity_day (member_id, day, workspace_id, community_id, messages) "
    "SELECT m, d, w, c, n FROM json_to_recordset(CAST(:rows AS json)) "
    "AS r(m text, d date, w text, c text, n int) "
    "ON CONFLICT (member_id, day) DO UPDATE "
    "SET messages = member_activity_day.messages + excluded.messages"
)
