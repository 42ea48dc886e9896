"""The members service: who is in which community and group, and how they got there."""

from pathlib import Path

from fastapi import FastAPI

from services.common.contracts import topics
from services.common.runtime import ServiceSpec, create_service_app
from services.members.api import router

SPEC = ServiceSpec(
    name="members",
    version="0.1.0",
    routers=[router],
    migrations_dir=Path(__file__).parent / "migrations",
    produces=[topics.MEMBERS],
    description="Communities, members and their platform identities.",
)


def create_app() -> FastAPI:
    return create_service_app(SPEC)
