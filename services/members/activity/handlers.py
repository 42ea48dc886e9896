"""What activity hears: a bot's report of a message, counted once into the member's record."""

from sqlmodel import Session

from services.common import clock
from services.common.cloudevents import CloudEvent
from services.common.contracts import ChatMessagePosted
from services.members.activity.senders import sender_of
from services.members.activity.service import (
    award_message_points,
    count_day,
    lock_member,
    log,
    record_message,
    reported_time,
)
from services.members.community.service import get_community
from services.members.moderation import detection
from services.members.vocabulary import IN_GOOD_STANDING


def on_message_posted(session: Session, event: CloudEvent) -> None:
    """Count a message: the member's total and last activity, the day, and points."""
    data = ChatMessagePosted.model_validate(event.data)
    resolved = sender_of(session, event, data)
    if resolved is None:
        log.info(
            "message from an unregistered group ignored", extra={"group": data.group_external_id}
        )
        return
    group, member = resolved
    member = lock_member(session, member=member)
    if not record_message(
        session=session, group=group, member=member, data=data, event_id=event.id
    ):
        return
    community = get_community(
        session=session, workspace_id=member.workspace_id, community_id=member.community_id
    )
    at = reported_time(data.occurred_at)
    member.message_count += 1
    if member.last_active_at is None or at > member.last_active_at:
        member.last_active_at = at  # a late event never moves it backwards
    session.add(member)
    count_day(session=session, member=member, day=clock.local_day(at, community.timezone))
    if member.status not in IN_GOOD_STANDING:
        return
    breaks_rules = detection.violations(
        text=data.text,
        flags=data.flags,
        policy=community.rules().moderation,
        role=member.role,
        at=at,
        timezone=community.timezone,
    )
    if not breaks_rules:
        award_message_points(
            session=session, community=community, member=member, at=at, source_id=event.id
        )
