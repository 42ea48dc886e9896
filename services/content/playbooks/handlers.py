"""What starts and stops playbook runs: members' joins and status changes, bots' group joins
and leaves, groups created and dissolved. Starting is idempotent (one run per anchor);
cancelling touches only what is still running."""

from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.contracts import (
    GroupCreated,
    GroupDissolved,
    GroupMemberJoined,
    GroupMemberLeft,
    MemberJoined,
    MemberStatusChanged,
)
from services.content.playbooks import service
from services.content.playbooks.models import Anchor
from services.content.replica import service as replica
from services.content.replica.models import Community

_GONE = {"removed", "banned", "merged"}


def _community(session: Session, event: CloudEvent, community_id: str) -> Community | None:
    community = session.get(Community, community_id)
    return (
        community if community is not None and community.workspace_id == event.workspaceid else None
    )


def on_member_joined(session: Session, event: CloudEvent) -> None:
    data = MemberJoined.model_validate(event.data)
    community = _community(session, event, data.community_id)
    if community is None:
        return
    identity = data.identities[0] if data.identities else None
    for playbook in service.playbooks_for(
        session, community_id=community.id, anchor=Anchor.member_joined_community
    ):
        service.start_run(
            session,
            playbook=playbook,
            timezone=community.timezone,
            anchor_key=f"member:{data.member_id}",
            anchored_at=data.joined_at,
            member_id=data.member_id,
            platform=identity.platform if identity else None,
            external_id=identity.external_id if identity else None,
        )


def on_group_member_joined(session: Session, event: CloudEvent) -> None:
    data = GroupMemberJoined.model_validate(event.data)
    group = replica.group_by_external_id(
        session,
        workspace_id=event.workspaceid,
        platform=data.platform,
        external_id=data.group_external_id,
    )
    community = _community(session, event, group.community_id) if group else None
    if group is None or community is None:
        return
    member_id = replica.member_of(
        session,
        workspace_id=event.workspaceid,
        community_id=community.id,
        platform=data.platform,
        external_id=data.sender_external_id,
    )
    for playbook in service.playbooks_for(
        session, community_id=community.id, anchor=Anchor.member_joined_group, group_id=group.id
    ):
        service.start_run(
            session,
            playbook=playbook,
            timezone=community.timezone,
            anchor_key=f"{data.platform}:{data.sender_external_id}@{group.id}",
            anchored_at=data.occurred_at,
            member_id=member_id,
            group_id=group.id,
            platform=data.platform,
            external_id=data.sender_external_id,
        )


def on_group_created(session: Session, event: CloudEvent) -> None:
    data = GroupCreated.model_validate(event.data)
    community = _community(session, event, data.community_id)
    if community is None:
        return
    for playbook in service.playbooks_for(
        session, community_id=community.id, anchor=Anchor.group_created, group_id=data.group_id
    ):
        service.start_run(
            session,
            playbook=playbook,
            timezone=community.timezone,
            anchor_key=f"group:{data.group_id}",
            anchored_at=data.created_at,
            group_id=data.group_id,
        )


def on_member_status_changed(session: Session, event: CloudEvent) -> None:
    """A member removed, banned or merged away gets nothing more from any playbook."""
    data = MemberStatusChanged.model_validate(event.data)
    if data.to_status in _GONE:
        service.cancel_runs(
            session,
            workspace_id=event.workspaceid,
            where=service.member_runs(data.member_id),
            reason=f"member {data.to_status}",
        )


def on_group_member_left(session: Session, event: CloudEvent) -> None:
    """Someone who left a group gets nothing more from the playbooks that group started."""
    data = GroupMemberLeft.model_validate(event.data)
    group = replica.group_by_external_id(
        session,
        workspace_id=event.workspaceid,
        platform=data.platform,
        external_id=data.group_external_id,
    )
    if group is not None:
        service.cancel_runs(
            session,
            workspace_id=event.workspaceid,
            where=service.member_in_group_runs(group.id, data.platform, data.sender_external_id),
            reason="member left the group",
        )


def on_group_dissolved(session: Session, event: CloudEvent) -> None:
    data = GroupDissolved.model_validate(event.data)
    service.cancel_runs(
        session,
        workspace_id=event.workspaceid,
        where=service.group_runs(data.group_id),
        reason="group dissolved",
    )
