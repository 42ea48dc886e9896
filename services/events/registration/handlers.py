"""Registrations that bots push (a member typed 报名 in the group)."""

from datetime import UTC, datetime

from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.consumer import Handler
from services.common.contracts import EventData, RegistrationRequested
from services.events.activities.service import activity_of
from services.events.bots import refuse, sender_of
from services.events.problems import Problem
from services.events.registration.models import Source
from services.events.registration.service import register


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
                source=Source.bot,
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


HANDLERS: dict[str, Handler] = {RegistrationRequested.type: on_registration_requested}
