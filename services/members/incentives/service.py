"""Incentives (DOMAIN.md rule 18): points for what members do, levels, badges, leaderboards.

Points come from other services' events (check-ins, attendance, accepted submissions), from
chat activity (activity/ calls `award`), from referrals, and from operators' adjustments.
The ledger itself lives in ledger.py, badges in badges.py, leaderboards in leaderboard.py.
"""

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.common.cloudevents import CloudEvent
from services.members import problems
from services.members.community import service
from services.members.community.models import Member
from services.members.incentives import badges
from services.members.incentives.ledger import award, relevel
from services.members.incentives.models import PointsEntry, RecomputeResult
from services.members.vocabulary import MemberStatus

MAX_MERGE_HOPS = 10


def member_for_event(
    session: Session, *, event: CloudEvent, member_id: str, community_id: str
) -> Member | None:
    """The member an event names, in the event's own workspace and community; a merged record
    answers with its survivor. None when there is no such member here."""
    member = session.exec(
        select(Member).where(
            Member.id == member_id,
            Member.community_id == community_id,
            Member.workspace_id == event.workspaceid,
        )
    ).one_or_none()
    for _ in range(MAX_MERGE_HOPS):
        if member is None or member.status != MemberStatus.merged or not member.merged_into:
            break
        member = session.get(Member, member.merged_into)
    return member


def adjust(
    *, session: Session, member: Member, amount: int, note: str, actor: str, source_id: str
) -> PointsEntry:
    """An operator's credit or debit; a debit may not take the total below zero."""
    limit = (
        service.get_community(
            session=session, workspace_id=member.workspace_id, community_id=member.community_id
        )
        .rules()
        .points.manual_adjustment_max
    )
    if amount == 0 or abs(amount) > limit:
        raise problems.AmountOutOfRange(limit=limit)
    if member.status == MemberStatus.merged:
        raise problems.MemberMerged(member_id=member.id, merged_into=member.merged_into or "")
    if member.points + amount < 0:
        raise problems.InsufficientPoints(balance=member.points, debit=-amount)
    entry = award(
        session=session,
        member=member,
        amount=amount,
        reason="manual",
        source_id=source_id,
        note=note,
        actor=actor,
    )
    if entry is None:
        raise problems.AlreadyApplied()
    return entry


def ledger_query(*, member: Member) -> Any:
    """A member's ledger entries."""
    return select(PointsEntry).where(PointsEntry.member_id == member.id)


def recompute_levels(
    *, session: Session, community_id: str, thresholds: list[int]
) -> RecomputeResult:
    """Re-level every member after the thresholds changed; only rises are announced."""
    new_level = sa.func.greatest(
        1,
        sa.select(sa.func.count())
        .select_from(sa.func.unnest(sa.literal(thresholds, sa.ARRAY(sa.Integer))).alias("t"))
        .where(sa.column("t") <= Member.points)
        .scalar_subquery(),
    )
    changed = session.execute(
        sa.select(col(Member.id), col(Member.level), new_level.label("new_level"))
        .where(
            col(Member.community_id) == community_id,
            col(Member.status) != MemberStatus.merged,
            col(Member.level) != new_level,
        )
        .with_for_update(of=Member.__table__)  # type: ignore[attr-defined]
    ).all()
    raised = [row.id for row in changed if row.new_level > row.level]
    for member in session.exec(select(Member).where(col(Member.id).in_(raised))):
        relevel(session=session, member=member, thresholds=thresholds)
        badges.check_rules(session=session, member=member)
    lowered = {row.id: row.new_level for row in changed if row.new_level < row.level}
    for member_id, level in lowered.items():
        session.execute(sa.update(Member).where(col(Member.id) == member_id).values(level=level))
    return RecomputeResult(raised=len(raised), lowered=len(lowered))


def move_ledger(session: Session, *, survivor: Member, merged: Member) -> None:
    """Entries move with their sources, so nothing already paid can pay again."""
    session.execute(
        sa.update(PointsEntry)
        .where(col(PointsEntry.member_id) == merged.id)
        .values(member_id=survivor.id)
    )
    survivor.points += merged.points
    merged.points, merged.level = 0, 1
    session.add_all([survivor, merged])
    relevel(session=session, member=survivor)
    badges.check_rules(session=session, member=survivor)
