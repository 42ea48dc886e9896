"""The member lifecycle (社群链条): aware → joined → communicating → favourable → active →
paying → feedback → referring. Observed events advance a member; operators may override.

Automatic moves only go forward, and straight to the furthest stage the evidence reaches: a
member who first speaks on their ninth active day goes from `joined` to `active` in one
recorded change (reason naming the rule), without passing through stages they never showed.
Stages behind the current one are never revisited, so a `paying` member who becomes active
stays `paying`. Only an operator's override moves a member back.
"""

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from services.common import clock
from services.common.contracts import MemberStageChanged
from services.common.ids import new_id
from services.members.activity.models import ActivityDay, ActivityMessage
from services.members.community.models import Member, MemberRecord
from services.members.community.service import get_community
from services.members.community.settings import LifecycleSettings
from services.members.lifecycle.models import (
    StageChange,
)
from services.members.publishing import emit
from services.members.vocabulary import Stage

log = logging.getLogger(__name__)


ORDER = list(Stage)


def _change(
    session: Session, member: Member, to_stage: Stage, reason: str, actor: str
) -> StageChange:
    change, event = stage_change(member, to_stage, reason, actor)
    session.add_all([member, change])
    emit(
        session,
        event,
        member=member,
        community_id=member.community_id,
        workspace_id=member.workspace_id,
    )
    return change


def stage_change(
    member: Member, to_stage: Stage, reason: str, actor: str = "system"
) -> tuple[StageChange, MemberStageChanged]:
    """Move `member` to `to_stage` in memory: the change to record and the event to announce
    (the caller writes both; a batch writes many at once)."""
    change = StageChange(
        id=new_id("stg"),
        workspace_id=member.workspace_id,
        community_id=member.community_id,
        member_id=member.id,
        from_stage=member.stage,
        to_stage=to_stage,
        reason=reason,
        actor=actor,
    )
    member.stage = to_stage
    return change, MemberStageChanged(
        member_id=member.id,
        community_id=member.community_id,
        from_stage=change.from_stage,
        to_stage=to_stage,
        reason=reason,
        actor=actor,
        changed_at=change.at,
    )


def advance(
    *, session: Session, member: Member, to_stage: Stage, reason: str, actor: str = "system"
) -> bool:
    """Move a member forward to `to_stage`; never backwards. Returns whether it moved."""
    if ORDER.index(to_stage) <= ORDER.index(member.stage):
        return False
    _change(session, member, to_stage, reason, actor)
    return True


def override(
    *, session: Session, member: Member, to_stage: Stage, reason: str, actor: str
) -> StageChange:
    """An operator sets the stage, either way, with a reason."""
    return _change(session, member, to_stage, reason, actor)


def stage_history_query(*, member: Member) -> Any:
    """Every change of the member's stage; page it oldest first by (`at`, `id`)."""
    return select(StageChange).where(
        StageChange.member_id == member.id, StageChange.workspace_id == member.workspace_id
    )


def reached_by_activity(*, session: Session, member: Member, at: datetime) -> tuple[Stage, str]:
    """The furthest stage the member's chat activity reaches, and the rule that says so.
    `at` is the time of the latest message; the active window ends on its day."""
    community = get_community(
        session=session, workspace_id=member.workspace_id, community_id=member.community_id
    )

    def days_since(first_day: date) -> int:
        return session.exec(
            select(func.count()).where(
                ActivityDay.member_id == member.id, col(ActivityDay.day) >= first_day
            )
        ).one()

    def messages_before(window_end: datetime) -> int:
        return session.exec(
            select(func.count()).where(
                ActivityMessage.member_id == member.id,
                col(ActivityMessage.occurred_at) < window_end,
            )
        ).one()

    return furthest_stage(
        member=member,
        rules=community.rules().lifecycle,
        timezone=community.timezone,
        at=at,
        days_since=days_since,
        messages_before=messages_before,
    )


def furthest_stage(
    *,
    member: MemberRecord,
    rules: LifecycleSettings,
    timezone: str,
    at: datetime,
    days_since: Callable[[date], int],
    messages_before: Callable[[datetime], int],
) -> tuple[Stage, str]:
    """The rules of `reached_by_activity`, with the counts asked of the caller: the database
    for one message, what a batch has loaded and counted so far for many."""
    if ORDER.index(member.stage) < ORDER.index(Stage.active):
        first_day = clock.local_day(at, timezone) - timedelta(days=rules.active_window_days - 1)
        days = days_since(first_day)
        if days >= rules.active_days:
            return Stage.active, (
                f"active on {days} days in the last {rules.active_window_days} days"
            )
    if member.joined_at is not None and ORDER.index(member.stage) < ORDER.index(Stage.favourable):
        early = messages_before(member.joined_at + timedelta(days=rules.favourable_window_days))
        if early >= rules.favourable_messages_in_first_7_days:
            return Stage.favourable, (
                f"{early} messages in the first {rules.favourable_window_days} days"
            )
    if member.message_count > 0:
        return Stage.communicating, "first message"
    return member.stage, ""


def merge_stage(session: Session, *, survivor: Member, merged: Member) -> None:
    """The survivor keeps the further stage of the two; both histories stay as they were."""
    advance(
        session=session,
        member=survivor,
        to_stage=merged.stage,
        reason=f"merged with {merged.id}",
    )
