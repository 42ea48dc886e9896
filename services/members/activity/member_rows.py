"""The fold's writes to members and their days: one statement each for the whole batch, with
fixed texts and the rows as one JSON parameter (why: `folding.py`)."""

from collections import Counter
from datetime import date

import orjson
import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from services.members.community.models import Member


def write_members(session: Session, members: dict[str, Member]) -> None:
    """What the fold changed on its members, in one statement (their rows are locked, so the
    values are theirs to write); the session is told they are written, or its flush would
    send them again, one statement for every set of changed columns."""
    rows = [
        {
            "i": m.id,
            "n": m.message_count,
            "a": m.last_active_at,
            "s": m.stage,
            "t": m.status,
            "u": m.muted_until,
        }
        for _, m in sorted(members.items())
    ]
    for m in members.values():  # before the statement, whose autoflush would send them
        for name in _WRITTEN:
            set_committed_value(m, name, getattr(m, name))
    session.execute(_WRITE_MEMBERS, {"rows": orjson.dumps(rows).decode()})


_WRITTEN = ("message_count", "last_active_at", "stage", "status", "muted_until")


def count_days(
    session: Session, counts: Counter[tuple[str, date]], members: dict[str, Member]
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
    "muted_until = r.u FROM json_to_recordset(CAST(:rows AS json)) "
    "AS r(i text, n int, a timestamptz, s text, t text, u timestamptz) WHERE member.id = r.i"
)
# Keys in order: two batches upserting the same days lock them in the same order.
_COUNT_DAYS = sa.text(
    "INSERT INTO member_activity_day (member_id, day, workspace_id, community_id, messages) "
    "SELECT m, d, w, c, n FROM json_to_recordset(CAST(:rows AS json)) "
    "AS r(m text, d date, w text, c text, n int) "
    "ON CONFLICT (member_id, day) DO UPDATE "
    "SET messages = member_activity_day.messages + excluded.messages"
)
