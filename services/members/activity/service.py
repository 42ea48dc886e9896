"""Chat activity: what bots report from the groups, folded into each member's record.

Each message counts once, however often it is delivered: the consumer drops a redelivered
event, and a message a bot pushes twice (two events, one message id) is recognised by
`ActivityMessage`. A message from a removed or banned member is still activity data (it was
said in the group) but earns nothing; neither does a message moderation acts on.
"""

import logging
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, func, select

from services.common import clock
from services.common.contracts import ChatMessagePosted
from services.members.activity.models import ActivityDay, ActivityMessage
from services.members.community.models import Community, Member
from services.members.groups.models import Group
from services.members.incentives import ledger, models

log = logging.getLogger(__name__)


def reported_time(value: datetime) -> datetime:
    """A bot's timestamp in UTC (naive means UTC), never later than now: bot clocks run
    fast, and a message from the future would move `last_active_at` past every real one."""
    return min(clock.as_utc(value), clock.now())


def lock_member(session: Session, *, member: Member) -> Member:
    """The member row, locked for this transaction: counters and the daily cap of points are
    read-modify-write, so two messages of one member take turns."""
    return session.exec(select(Member).where(Member.id == member.id).with_for_update()).one()


def record_message(
    *, session: Session, group: Group, member: Member, data: ChatMessagePosted, event_id: str
) -> bool:
    """Note the message once; False if it was seen before."""
    seen = session.execute(
        insert(ActivityMessage.__table__)  # type: ignore[attr-defined]
        .values(
            group_id=group.id,
            message_external_id=data.message_external_id,
            workspace_id=member.workspace_id,
            community_id=member.community_id,
            member_id=member.id,
            event_id=event_id,
            occurred_at=reported_time(data.occurred_at),
        )
        .on_conflict_do_nothing()
        .returning(sa.column("group_id"))
    ).first()
    return seen is not None


def count_day(*, session: Session, member: Member, day: date) -> None:
    """Count one message on the member's local `day`."""
    table = ActivityDay.__table__  # type: ignore[attr-defined]
    session.execute(
        insert(table)
        .values(
            member_id=member.id,
            day=day,
            workspace_id=member.workspace_id,
            community_id=member.community_id,
            messages=1,
        )
        .on_conflict_do_update(
            index_elements=["member_id", "day"], set_={"messages": table.c.messages + 1}
        )
    )


def award_message_points(
    *, session: Session, community: Community, member: Member, at: datetime, source_id: str
) -> int:
    """Message points, up to the daily cap: the day is the message's, on the community's
    clock, and what counts toward the cap is what the ledger holds for that day."""
    rules = community.rules().points
    day = clock.day_bounds(clock.local_day(at, community.timezone), community.timezone)
    earned = session.exec(
        select(func.coalesce(func.sum(models.PointsEntry.amount), 0)).where(
            models.PointsEntry.member_id == member.id,
            models.PointsEntry.reason == "message",
            col(models.PointsEntry.created_at) >= day.start,
            col(models.PointsEntry.created_at) < day.end,
        )
    ).one()
    amount = min(rules.message, rules.message_daily_cap - int(earned))
    if amount <= 0:
        return 0
    entry = ledger.award(
        session=session,
        member=member,
        amount=amount,
        reason="message",
        source_id=source_id,
        at=at,
    )
    return entry.amount if entry else 0


# Long past any redelivery (Kafka keeps a week by default) and past the lifecycle's windows,
# which read messages from a member's first days only when those messages arrive.
MESSAGE_MEMORY = timedelta(days=90)


def forget_old_messages(session: Session, at: datetime) -> int:
    """Drop the record of messages older than MESSAGE_MEMORY (a periodic job)."""
    result = session.connection().execute(
        sa.delete(ActivityMessage).where(col(ActivityMessage.occurred_at) < at - MESSAGE_MEMORY)
    )
    return result.rowcount


def merge_activity(session: Session, *, survivor: Member, merged: Member) -> None:
    """Days both were active add up; the merged member's messages become the survivor's."""
    days = ActivityDay.__table__  # type: ignore[attr-defined]
    moved = insert(days).from_select(
        ["member_id", "day", "workspace_id", "community_id", "messages"],
        sa.select(
            sa.literal(survivor.id),
            days.c.day,
            days.c.workspace_id,
            days.c.community_id,
            days.c.messages,
        ).where(days.c.member_id == merged.id),
    )
    session.execute(
        moved.on_conflict_do_update(
            index_elements=["member_id", "day"],
            set_={"messages": days.c.messages + moved.excluded.messages},
        )
    )
    session.execute(sa.delete(days).where(days.c.member_id == merged.id))
    session.execute(
        sa.update(ActivityMessage.__table__)  # type: ignore[attr-defined]
        .where(sa.column("member_id") == merged.id)
        .values(member_id=survivor.id)
    )
