"""The members service: who is in which community and group, how they got in, how engaged
they are, how they are rewarded, and what happens to those who break the rules."""

from pathlib import Path

from fastapi import FastAPI

from services.common.contracts import topics
from services.common.periodic import PeriodicJob
from services.common.runtime import ServiceSpec, create_service_app
from services.members import api, states

SPEC = ServiceSpec(
    name="members",
    version="0.2.0",
    routers=[api.router],
    migrations_dir=Path(__file__).parent / "migrations",
    produces=[topics.MEMBERS],
    periodic=[PeriodicJob("expire-mutes", 30, states.expire_mutes)],
    description="Communities, members, identities, entry, states and merges.",
)


def create_app() -> FastAPI:
    return create_service_app(SPEC)
