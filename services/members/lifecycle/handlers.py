"""What the lifecycle hears: messages (a member communicating, then active) and feedback given
at activities (the `feedback` stage)."""

from sqlmodel import Session, select

from services.common.cloudevents import CloudEvent
from services.common.contracts import ChatMessagePosted, FeedbackGiven
from services.members.activity.senders import sender_of
from services.members.activity.service import reported_time
from services.members.community.models import Member
from services.members.lifecycle.service import advance, log, reached_by_activity
from services.members.vocabulary import IN_GOOD_STANDING, Stage


def on_message_posted(session: Session, event: CloudEvent) -> None:
    """After activity has counted the message: advance by the activity rules."""
    data = ChatMessagePosted.model_validate(event.data)
    resolved = sender_of(session, event, data)
    if resolved is None or resolved[1].status not in IN_GOOD_STANDING:
        return
    member = resolved[1]
    if member.stage == Stage.aware:
        return  # a lead who has not joined: what they say does not make them a member
    stage, reason = reached_by_activity(
        session=session, member=member, at=reported_time(data.occurred_at)
    )
    advance(session=session, member=member, to_stage=stage, reason=reason)


def _current(session: Session, workspace_id: str, member_id: str) -> Member | None:
    """The member, or the survivor it was merged into."""
    member = session.exec(
        select(Member).where(Member.id == member_id, Member.workspace_id == workspace_id)
    ).one_or_none()
    for _ in range(10):  # merges chain rarely, and never in a loop
        if member is None or member.merged_into is None:
            break
        member = session.get(Member, member.merged_into)
    return member


def on_feedback_given(session: Session, event: CloudEvent) -> None:
    data = FeedbackGiven.model_validate(event.data)
    member = _current(session, event.workspaceid, data.member_id)
    if (
        member is None
        or member.community_id != data.community_id
        or member.status not in IN_GOOD_STANDING
    ):
        log.info("feedback from an unknown or departed member", extra={"member": data.member_id})
        return
    about = f" on activity {data.activity_id}" if data.activity_id else ""
    advance(session=session, member=member, to_stage=Stage.feedback, reason=f"feedback{about}")
