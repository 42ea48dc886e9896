"""The metrics service: everything measured, from its own read models fed by Kafka."""

from pathlib import Path

from fastapi import FastAPI

from services.common.contracts import (
    CommunityCreated,
    MemberJoined,
    MembersMerged,
    MemberStatusChanged,
)
from services.common.runtime import ServiceSpec, create_service_app
from services.metrics import service
from services.metrics.api import router

SPEC = ServiceSpec(
    name="metrics",
    version="0.1.0",
    routers=[router],
    migrations_dir=Path(__file__).parent / "migrations",
    handlers={
        CommunityCreated.type: service.on_community_created,
        MemberJoined.type: service.on_member_joined,
        MemberStatusChanged.type: service.on_member_status_changed,
        MembersMerged.type: service.on_members_merged,
    },
    description="Time series, funnels and health of communities, from events.",
)


def create_app() -> FastAPI:
    return create_service_app(SPEC)
