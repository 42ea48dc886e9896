"""The points ledger (积分): append-only entries, each tied to the event or request that caused
it, so the same source never pays twice however often it is delivered. A member's total and
level are kept on the member row for fast segments and leaderboards; the total always equals
the sum of the member's entries, and the level always follows the community's thresholds."""

import bisect
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col

from services.common.clock import now
from services.common.contracts import MemberLevelReached
from services.common.ids import new_id
from services.members.community.models import Member
from services.members.community.service import get_community
from services.members.incentives import badges
from services.members.incentives.models import PointsEntry
from services.members.publishing import emit


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
