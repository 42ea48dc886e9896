"""What moderation hears: every message a bot reports, checked against the policy."""

from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.contracts import ChatMessagePosted
from services.members.activity.senders import sender_of
from services.members.activity.service import lock_member, reported_time
from services.members.community.service import get_community
from services.members.moderation.detection import violations
from services.members.moderation.service import record_violation


def on_message_posted(session: Session, event: CloudEvent) -> None:
    """Check a message against the community's policy (after activity has counted it)."""
    data = ChatMessagePosted.model_validate(event.data)
    resolved = sender_of(session, event, data)
    if resolved is None:
        return
    group, member = resolved
    community = get_community(
        session=session, workspace_id=member.workspace_id, community_id=member.community_id
    )
    found = violations(
        text=data.text,
        flags=data.flags,
        policy=community.rules().moderation,
        role=member.role,
        at=reported_time(data.occurred_at),
        timezone=community.timezone,
    )
    if found:
        record_violation(
            session=session,
            community=community,
            group=group,
            member=lock_member(session, member=member),
            data=data,
            found=found,
            event_id=event.id,
        )
