"""Events of the members service (and bots' joins and leaves) → the replicas."""

from sqlmodel import Session

from services.common import replica
from services.common.cloudevents import CloudEvent
from services.common.contracts import (
    GroupDissolved,
    MemberJoined,
    MembersMerged,
    MemberStageChanged,
    MemberStatusChanged,
)
from services.metrics.replica import service
from services.metrics.replica.membership import membership_changed
from services.metrics.replica.models import ChatGroup, speaker_key
from services.metrics.rollups.replay import replay_for_community, replay_for_group

# Statuses after which a member no longer counts as in the community.
GONE = frozenset({"removed", "banned", "merged"})


def on_community(session: Session, event: CloudEvent) -> None:
    community = replica.community_of(event)
    service.upsert_community(session, community=community)
    # An update may be the first the replica hears of a community (its creation expired, or
    # is on its way): what waited on it is folded all the same.
    replay_for_community(session, workspace_id=community.workspace_id, community_id=community.id)


def on_group(session: Session, event: CloudEvent) -> None:
    group = replica.group_of(event, created_state="open")
    service.upsert_group(session, group=group)
    # A first sight of the group, or a changed external id (a bot re-created the chat): chat
    # parked under its name is folded now.
    replay_for_group(session, workspace_id=group.workspace_id, group_id=group.id)


def on_group_dissolved(session: Session, event: CloudEvent) -> None:
    data = GroupDissolved.model_validate(event.data)
    group = session.get(ChatGroup, data.group_id)
    if group is not None:
        group.state = "dissolved"
        session.add(group)


def on_member_joined(session: Session, event: CloudEvent) -> None:
    data = MemberJoined.model_validate(event.data)
    service.member_joined(
        session,
        workspace_id=event.workspaceid,
        community_id=data.community_id,
        member_id=data.member_id,
        role=data.role,
        speakers=[speaker_key(i.platform, i.external_id) for i in data.identities],
        referred_by=data.referred_by,
        at=data.joined_at,
    )


def on_member_status_changed(session: Session, event: CloudEvent) -> None:
    data = MemberStatusChanged.model_validate(event.data)
    if data.to_status in GONE:
        service.member_gone(session, member_id=data.member_id, at=data.changed_at)


def on_members_merged(session: Session, event: CloudEvent) -> None:
    data = MembersMerged.model_validate(event.data)
    service.members_merged(
        session, survivor_id=data.survivor_id, merged_id=data.merged_id, at=data.merged_at
    )


def on_member_stage_changed(session: Session, event: CloudEvent) -> None:
    data = MemberStageChanged.model_validate(event.data)
    service.stage_changed(
        session,
        event_id=event.id,
        workspace_id=event.workspaceid,
        community_id=data.community_id,
        member_id=data.member_id,
        from_stage=data.from_stage,
        to_stage=data.to_stage,
        at=data.changed_at,
    )


def on_group_member_joined(session: Session, event: CloudEvent) -> None:
    membership_changed(session, event)


def on_group_member_left(session: Session, event: CloudEvent) -> None:
    membership_changed(session, event)
