"""The events service: activities, registration with a waiting list, check-in (签到), daily
check-in challenges (打卡), temporary groups, lotteries, feedback, reports and reminders.

Every router, event handler and periodic job of the service is named here, in one place.
"""

from collections import defaultdict
from pathlib import Path

from fastapi import FastAPI
from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.consumer import Handler
from services.common.contracts import topics
from services.common.periodic import PeriodicJob
from services.common.runtime import ServiceSpec, create_service_app
from services.events.activities import views as activities
from services.events.challenges import handlers as challenge_handlers
from services.events.challenges import views as challenges
from services.events.checkin import service as checkin_service
from services.events.checkin import views as checkin
from services.events.feedback import views as feedback
from services.events.groups import handlers as group_handlers
from services.events.lotteries import views as lotteries
from services.events.registration import handlers as registration_handlers
from services.events.registration import service as registration_service
from services.events.registration import views as registration
from services.events.reminders import service as reminders
from services.events.replica import handlers as replica
from services.events.reports import views as reports

ROUTERS = [
    activities.router,
    registration.router,
    checkin.router,
    challenges.router,
    lotteries.router,
    feedback.router,
    reports.router,
]

# Where several packages handle one event type they run in this order, in one transaction:
# the replica first, so the others read the member as the event left them.
HANDLER_TABLES: list[dict[str, Handler]] = [
    replica.HANDLERS,
    registration_handlers.HANDLERS,
    challenge_handlers.HANDLERS,
    group_handlers.HANDLERS,
]


def _in_turn(handlers: list[Handler]) -> Handler:
    if len(handlers) == 1:
        return handlers[0]

    def handle(session: Session, event: CloudEvent) -> None:
        for handler in handlers:
            handler(session, event)

    return handle


def gather_handlers(tables: list[dict[str, Handler]]) -> dict[str, Handler]:
    by_type: defaultdict[str, list[Handler]] = defaultdict(list)
    for table in tables:
        for event_type, handler in table.items():
            by_type[event_type].append(handler)
    return {event_type: _in_turn(handlers) for event_type, handlers in by_type.items()}


HANDLERS = gather_handlers(HANDLER_TABLES)

JOBS = [
    PeriodicJob("lapse-offers", 30, registration_service.lapse_offers),
    PeriodicJob("close-ended-sessions", 60, checkin_service.close_ended_sessions),
    PeriodicJob("send-reminders", 30, reminders.send_due_reminders),
]

SPEC = ServiceSpec(
    name="events",
    version="0.2.0",
    routers=ROUTERS,
    migrations_dir=Path(__file__).parent / "migrations",
    produces=[topics.ACTIVITIES],
    handlers=HANDLERS,
    periodic=JOBS,
    description="Activities, registration with waiting lists, check-in, daily check-in "
    "challenges, temporary groups, lotteries, feedback and reports.",
)


def create_app() -> FastAPI:
    return create_service_app(SPEC)
