"""What incentives hear: points for check-ins, attendance and accepted submissions from the
events and content services."""

from collections.abc import Callable

from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.contracts import (
    AttendanceRecorded,
    CheckInRecorded,
    SubmissionAccepted,
)
from services.members.community import service
from services.members.community.settings import PointsRules
from services.members.incentives.ledger import award
from services.members.incentives.service import member_for_event


def _pay(
    session: Session,
    event: CloudEvent,
    *,
    member_id: str,
    community_id: str,
    reason: str,
    amount_of: Callable[[PointsRules], int],
    source_id: str,
) -> None:
    member = member_for_event(session, event=event, member_id=member_id, community_id=community_id)
    if member is None:
        return
    rules = service.get_community(
        session=session, workspace_id=member.workspace_id, community_id=member.community_id
    ).rules()
    award(
        session=session,
        member=member,
        amount=amount_of(rules.points),
        reason=reason,
        source_id=source_id,
    )


# Sources are the facts, not the event ids: a producer re-publishing the same check-in under a
# new event id still pays once.
def on_check_in(session: Session, event: CloudEvent) -> None:
    data = CheckInRecorded.model_validate(event.data)
    _pay(
        session,
        event,
        member_id=data.member_id,
        community_id=data.community_id,
        reason="check_in",
        amount_of=lambda rules: rules.check_in,
        source_id=f"{data.challenge_id}/{data.day}/{data.member_id}",
    )


def on_attendance(session: Session, event: CloudEvent) -> None:
    data = AttendanceRecorded.model_validate(event.data)
    _pay(
        session,
        event,
        member_id=data.member_id,
        community_id=data.community_id,
        reason="attendance",
        amount_of=lambda rules: rules.attendance,
        source_id=f"{data.activity_id}/{data.member_id}",
    )


def on_submission_accepted(session: Session, event: CloudEvent) -> None:
    data = SubmissionAccepted.model_validate(event.data)
    _pay(
        session,
        event,
        member_id=data.member_id,
        community_id=data.community_id,
        reason="accepted_submission",
        amount_of=lambda rules: rules.accepted_submission,
        source_id=data.submission_id,
    )
