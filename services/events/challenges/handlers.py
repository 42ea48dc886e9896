"""Daily check-ins that bots push (a member posts 打卡 in the group). The day is the local day
of `occurred_at`, so a push delivered late still counts for the day it was made."""

from sqlmodel import Session

from services.common.clock import as_utc, now
from services.common.cloudevents import CloudEvent
from services.common.consumer import Handler
from services.common.contracts import CheckInPushed, EventData
from services.events.bots import refuse, sender_of
from services.events.challenges.service import check_in
from services.events.problems import Problem


def on_check_in_pushed(session: Session, event: CloudEvent) -> None:
    data = EventData.of(event)
    assert isinstance(data, CheckInPushed)
    community = member = None
    try:
        with session.begin_nested():
            community, member = sender_of(session, event, data)
            check_in(
                session,
                community=community,
                challenge_id=data.challenge_id,
                member_id=member.id,
                # A bot's clock ahead of ours never books a day that has not begun.
                now=min(as_utc(data.occurred_at), now()),
                text=data.text,
                link=data.link,
            )
    except Problem as problem:
        refuse(
            session,
            event,
            data,
            request="check_in",
            problem=problem,
            community=community,
            member=member,
        )


HANDLERS: dict[str, Handler] = {CheckInPushed.type: on_check_in_pushed}
