"""The content service: content items, review, schedules and the calendar.

Only the platform kit runs here so far (database, outbox, health); its domain arrives with
the content issue.
"""

from pathlib import Path

from fastapi import FastAPI

from services.common.contracts import topics
from services.common.runtime import ServiceSpec, create_service_app

SPEC = ServiceSpec(
    name="content",
    version="0.1.0",
    routers=[],
    migrations_dir=Path(__file__).parent / "migrations",
    produces=[topics.CONTENT],
    description="Content items, review, schedules and the content calendar.",
)


def create_app() -> FastAPI:
    return create_service_app(SPEC)
