"""The events service: activities, registration, check-in, challenges and lotteries.

Only the platform kit runs here so far (database, outbox, health); its domain arrives with
the activities issue.
"""

from pathlib import Path

from fastapi import FastAPI

from services.common.contracts import topics
from services.common.runtime import ServiceSpec, create_service_app

SPEC = ServiceSpec(
    name="events",
    version="0.1.0",
    routers=[],
    migrations_dir=Path(__file__).parent / "migrations",
    produces=[topics.ACTIVITIES],
    description="Activities, registration with waiting lists, check-in, streaks and lotteries.",
)


def create_app() -> FastAPI:
    return create_service_app(SPEC)
