"""Members' community and group events, and the events service's activity plans, folded
into the replica. Each handler is idempotent by state: replaying an event, or receiving an
older one late, changes nothing."""

from sqlmodel import Session

from services.common import replica
from services.common.cloudevents import CloudEvent
from services.common.contracts import (
    ActivityPlanned,
    MemberJoined,
)
from services.content.replica import service


def on_community(session: Session, event: CloudEvent) -> None:
    service.upsert_community(session, community=replica.community_of(event))


def on_group(session: Session, event: CloudEvent) -> None:
    service.upsert_group(session, group=replica.group_of(event, created_state="filling"))


def on_group_dissolved(session: Session, event: CloudEvent) -> None:
    service.dissolve_group(session, group=replica.group_of(event, created_state="filling"))


def on_member_joined(session: Session, event: CloudEvent) -> None:
    data = MemberJoined.model_validate(event.data)
    service.remember_identities(
        session,
        workspace_id=event.workspaceid,
        community_id=data.community_id,
        member_id=data.member_id,
        identities=[(i.platform, i.external_id) for i in data.identities],
    )


def on_activity_planned(session: Session, event: CloudEvent) -> None:
    data = ActivityPlanned.model_validate(event.data)
    service.replace_plan(
        session,
        workspace_id=event.workspaceid,
        activity_id=data.activity_id,
        as_of=data.changed_at,
        community_id=data.community_id,
        kind=data.kind,
        title=data.title,
        status=data.status,
        place=data.place,
        online_url=data.online_url,
        group_id=data.group_id,
        sessions=[
            {"id": s.session_id, "starts_at": s.starts_at, "ends_at": s.ends_at, "status": s.status}
            for s in data.sessions
        ],
    )
