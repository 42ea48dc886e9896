"""The members service: who is in which community and group, how they got in, how engaged
they are, how they are rewarded, and what happens to those who break the rules or fall silent.

Each sub-domain module may expose `router`, `HANDLERS` (event type → handler) and `JOBS`
(periodic jobs); this file gathers them. Where several modules handle one event type, they
run in the order below, in one transaction.
"""

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from fastapi import FastAPI
from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.consumer import Handler
from services.common.contracts import topics
from services.common.runtime import ServiceSpec, create_service_app
from services.members import (
    activity,
    api,
    groups,
    lifecycle,
    moderation,
    onboarding,
    outreach,
    points,
    pruning,
    referrals,
    rules,
    segments,
    states,
    tags,
)

# Order matters where handlers share an event type: who resolves the member comes first.
MODULES: Sequence[ModuleType] = (
    api,
    states,
    activity,
    groups,
    lifecycle,
    moderation,
    points,
    referrals,
    tags,
    segments,
    onboarding,
    rules,
    pruning,
    outreach,
)


def _combined(handlers: list[Handler]) -> Handler:
    if len(handlers) == 1:
        return handlers[0]

    def handle(session: Session, event: CloudEvent) -> None:
        for handler in handlers:
            handler(session, event)

    return handle


def gather_handlers(modules: Sequence[ModuleType]) -> dict[str, Handler]:
    by_type: defaultdict[str, list[Handler]] = defaultdict(list)
    for module in modules:
        for event_type, handler in getattr(module, "HANDLERS", {}).items():
            by_type[event_type].append(handler)
    return {event_type: _combined(handlers) for event_type, handlers in by_type.items()}


SPEC = ServiceSpec(
    name="members",
    version="0.2.0",
    routers=[m.router for m in MODULES if hasattr(m, "router")],
    migrations_dir=Path(__file__).parent / "migrations",
    produces=[topics.MEMBERS],
    handlers=gather_handlers(MODULES),
    periodic=[job for m in MODULES for job in getattr(m, "JOBS", [])],
    description="Communities, groups, members, entry, onboarding, segments, lifecycle, referrals, "
    "incentives, moderation and inactivity pruning.",
)


def create_app() -> FastAPI:
    return create_service_app(SPEC)
