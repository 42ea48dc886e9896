"""Registrations that bots push (a member typed 报名 in the group)."""

from datetime import UTC, datetime

from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.consumer import Handler
from services.common.contracts import EventData, MemberStatusChanged, RegistrationRequested
from services.events.activities.service import activity_of
from services.events.bots import refuse, sender_of
from services.events.problems import Problem
from services.events.registration.models import RegistrationSource
from services.events.registration.service import register, release_member
from services.events.replica.models import MEMBER_STATUSES


def on_registration_requested(session: Session, event: CloudEvent) -> None:
    data = EventData.of(event)
    assert isinstance(data, RegistrationRequested)
    community = member = None
    try:
        with session.begin_nested():
            community, member = sender_of(session, event, data)
            activity = activity_of(session, community=community, activity_id=data.activity_id)
            register(
                session,
                community=community,
                activity=activity,
                session_id=data.session_id,
                member_id=member.id,
                source=RegistrationSource.bot,
                now=datetime.now(UTC),
            )
    except Problem as problem:
        refuse(
            session,
            event,
            data,
            request="registration_requested",
            problem=problem,
            community=community,
            member=member,
        )


def on_member_status_changed(session: Session, event: CloudEvent) -> None:
    """Removed or banned: the places they held in sessions to come go to those waiting."""
    data = EventData.of(event)
    assert isinstance(data, MemberStatusChanged)
    if data.to_status not in MEMBER_STATUSES and data.to_status != "pending":
        release_member(
            session, community_id=data.community_id, member_id=data.member_id, now=data.changed_at
        )


HANDLERS: dict[str, Handler] = {
    RegistrationRequested.type: on_registration_requested,
    MemberStatusChanged.type: on_member_status_changed,
}
