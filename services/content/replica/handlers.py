"""Members' community and group events, and the events service's activity plans, folded
into the replica. Each handler is idempotent by state: replaying an event, or receiving an
older one late, changes nothing."""

from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.contracts import (
    ActivityPlanned,
    CommunityCreated,
    CommunityUpdated,
    GroupCreated,
    GroupDissolved,
    GroupUpdated,
    MemberJoined,
)
from services.content.replica import service


def on_community_created(session: Session, event: CloudEvent) -> None:
    data = CommunityCreated.model_validate(event.data)
    service.upsert_community(
        session,
        workspace_id=event.workspaceid,
        community_id=data.community_id,
        name=data.name,
        purpose=data.purpose,
        timezone=data.timezone,
        as_of=data.created_at,
    )


def on_community_updated(session: Session, event: CloudEvent) -> None:
    data = CommunityUpdated.model_validate(event.data)
    service.upsert_community(
        session,
        workspace_id=event.workspaceid,
        community_id=data.community_id,
        name=data.name,
        purpose=data.purpose,
        timezone=data.timezone,
        as_of=data.updated_at,
    )


def on_group_created(session: Session, event: CloudEvent) -> None:
    data = GroupCreated.model_validate(event.data)
    service.upsert_group(
        session,
        workspace_id=event.workspaceid,
        group_id=data.group_id,
        as_of=data.created_at,
        community_id=data.community_id,
        platform=data.platform,
        external_id=data.external_id,
        name=data.name,
        kind=data.kind,
        state="filling",
    )


def on_group_updated(session: Session, event: CloudEvent) -> None:
    data = GroupUpdated.model_validate(event.data)
    service.upsert_group(
        session,
        workspace_id=event.workspaceid,
        group_id=data.group_id,
        as_of=data.updated_at,
        community_id=data.community_id,
        platform=data.platform,
        external_id=data.external_id,
        name=data.name,
        kind=data.kind,
        state=data.state,
    )


def on_group_dissolved(session: Session, event: CloudEvent) -> None:
    data = GroupDissolved.model_validate(event.data)
    service.dissolve_group(
        session,
        workspace_id=event.workspaceid,
        group_id=data.group_id,
        dissolved_at=data.dissolved_at,
        community_id=data.community_id,
        platform=data.platform,
        external_id=data.external_id,
        name=data.name,
        kind=data.kind,
    )


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
