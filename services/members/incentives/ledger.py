"""The points ledger (积分): append-only entries, each tied to the event or request that caused
it, so the same source never pays twice however often it is delivered. A member's total and
level are kept on the member row for fast segments and leaderboards; the total always equals
the sum of the member's entries, and the level always follows the community's thresholds."""

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col

from services.common.clock import now
from services.common.contracts import EventData, MemberLevelReached
from services.common.ids import new_id
from services.members.community.models import Member, MemberRecord
from services.members.community.service import get_community
from services.members.incentives import badges
from services.members.incentives.models import PointsEntry
from services.members.publishing import emit, emit_all


def level_for(points: int, thresholds: list[int]) -> int:
    """Level 1 at the first threshold (0), level N at the N-th."""
    return max(1, bisect.bisect_right(thresholds, points))


def relevel(*, session: Session, member: Member, thresholds: list[int] | None = None) -> bool:
    """Bring `member.level` in line with its points; announces rises. Returns whether it rose."""
    if thresholds is None:
        thresholds = (
            get_community(
                session=session, workspace_id=member.workspace_id, community_id=member.community_id
            )
            .rules()
            .levels.thresholds
        )
    level = level_for(member.points, thresholds)
    if level == member.level:
        return False
    rose = level > member.level
    member.level = level
    session.add(member)
    if rose:
        emit(
            session,
            MemberLevelReached(
                member_id=member.id,
                community_id=member.community_id,
                level=level,
                points=member.points,
                reached_at=now(),
            ),
            member=member,
            community_id=member.community_id,
            workspace_id=member.workspace_id,
        )
    return rose


def award(
    *,
    session: Session,
    member: Member,
    amount: int,
    reason: str,
    source_id: str,
    at: datetime | None = None,
    note: str | None = None,
    actor: str = "system",
) -> PointsEntry | None:
    """Credit (or debit) points once per (reason, source); None if that source already paid."""
    if amount == 0:
        return None
    entry_id = session.execute(
        insert(PointsEntry.__table__)  # type: ignore[attr-defined]
        .values(
            id=new_id("pts"),
            workspace_id=member.workspace_id,
            community_id=member.community_id,
            member_id=member.id,
            amount=amount,
            reason=reason,
            source_id=source_id,
            note=note,
            actor=actor,
            created_at=at or now(),
        )
        .on_conflict_do_nothing()
        .returning(sa.column("id"))
    ).scalar_one_or_none()
    if entry_id is None:
        return None
    session.flush()
    # In SQL, not `member.points += amount`: the caller's copy may be stale, and this takes the
    # row lock so concurrent awards (consumer, HTTP, jobs) add up instead of overwriting.
    total, level = session.execute(
        sa.update(Member)
        .where(col(Member.id) == member.id)
        .values(points=col(Member.points) + amount)
        .returning(col(Member.points), col(Member.level))
        .execution_options(synchronize_session=False)
    ).one()
    set_committed_value(member, "points", total)
    set_committed_value(member, "level", level)
    relevel(session=session, member=member)
    badges.check_rules(session=session, member=member)
    return session.get(PointsEntry, entry_id)


@dataclass(frozen=True)
class Award:
    """One credit of `pay_all`."""

    member: MemberRecord
    amount: int
    reason: str
    source_id: str
    at: datetime


def pay_all(
    *, session: Session, awards: Sequence[Award], thresholds: dict[str, list[int]]
) -> list[Award]:
    """`award` for many credits (in order) of members whose rows the caller has locked and
    read under that lock, and writes back afterwards (the chat fold writes each member once a
    batch: a second UPDATE of the same rows cost Postgres as much again). The entries go in
    one statement; the totals and levels change on the rows in memory, levels climbed in
    order (each rise announced with the points it was reached at, as one award after
    another would). `thresholds` are the level thresholds by community id. Returns the
    credits that were new; the caller checks the rule badges once the rows are written."""
    awards = [a for a in awards if a.amount != 0]
    if not awards:
        return []
    rows = [
        {
            "i": new_id("pts"),
            "w": a.member.workspace_id,
            "c": a.member.community_id,
            "m": a.member.id,
            "a": a.amount,
            "r": a.reason,
            "s": a.source_id,
            "t": a.at,
        }
        for a in awards
    ]
    paid = {tuple(row) for row in session.execute(_PAY, {"rows": orjson.dumps(rows).decode()})}
    credited = [a for a in awards if (a.member.community_id, a.reason, a.source_id) in paid]
    risen: list[tuple[EventData, MemberRecord]] = []
    for a in credited:
        member = a.member
        member.points += a.amount
        level = level_for(member.points, thresholds[member.community_id])
        if level == member.level:
            continue
        rose = level > member.level
        member.level = level
        if rose:
            risen.append(
                (
                    MemberLevelReached(
                        member_id=member.id,
                        community_id=member.community_id,
                        level=level,
                        points=member.points,
                        reached_at=now(),
                    ),
                    member,
                )
            )
    emit_all(session, risen)
    return credited


# The rows as one JSON parameter that Postgres expands: the statement's text never changes, so
# nothing is compiled per batch (a multi-row VALUES is compiled anew for every row count).
_PAY = sa.text(
    "INSERT INTO points_entry (id, workspace_id, community_id, member_id, amount, reason, "
    "source_id, note, actor, created_at) "
    "SELECT i, w, c, m, a, r, s, NULL, 'system', t FROM json_to_recordset(CAST(:rows AS json)) "
    "AS x(i text, w text, c text, m text, a int, r text, s text, t timestamptz) "
    "ON CONFLICT DO NOTHING RETURNING community_id, reason, source_id"
)
