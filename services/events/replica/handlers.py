"""Keeping the replica from members' events. Community and group events carry the whole
replicated state and an `updated_at`, so an older event never overwrites a newer one; member
events change one thing each and arrive in order (the community id is the record key)."""

from datetime import datetime

from sqlmodel import Session

from services.common import replica
from services.common.cloudevents import CloudEvent
from services.common.consumer import Handler
from services.common.contracts import (
    CommunityCreated,
    CommunityUpdated,
    EventData,
    GroupCreated,
    GroupDissolved,
    GroupUpdated,
    LeadCreated,
    MemberJoined,
    MemberLevelReached,
    MembersMerged,
    MemberStatusChanged,
    MemberTagged,
    MemberUntagged,
    PlatformIdentity,
)
from services.events.replica.models import ChatGroup, Community, Member, MemberIdentity


def on_community(session: Session, event: CloudEvent) -> None:
    community = replica.community_of(event)
    values = {"id": community.id, "workspace_id": community.workspace_id} | community.state
    _upsert(session, Community, values | {"updated_at": community.at})


def on_group(session: Session, event: CloudEvent) -> None:
    data = EventData.of(event)
    assert isinstance(data, GroupCreated | GroupUpdated)
    group = replica.group_of(event, created_state="open")
    values = {"id": group.id, "workspace_id": group.workspace_id} | group.state
    values |= {"capacity": data.capacity, "dissolve_at": data.dissolve_at, "updated_at": group.at}
    _upsert(session, ChatGroup, values)


def _upsert(session: Session, table: type, values: dict[str, object]) -> None:
    t = table.__table__  # type: ignore[attr-defined]
    replica.upsert_newer(session, t, values, key=["id"], stamp="updated_at")


def on_group_dissolved(session: Session, event: CloudEvent) -> None:
    data = EventData.of(event)
    assert isinstance(data, GroupDissolved)
    group = session.get(ChatGroup, data.group_id)
    if group is not None:
        group.state, group.updated_at = "dissolved", data.dissolved_at
        session.add(group)


def _member(session: Session, event: CloudEvent, member_id: str, community_id: str) -> Member:
    member = session.get(Member, member_id)
    if member is None:
        member = Member(
            id=member_id,
            workspace_id=event.workspaceid,
            community_id=community_id,
            status="lead",
            updated_at=event.time,
        )
    return member


def _identities(
    session: Session, event: CloudEvent, member: Member, identities: list[PlatformIdentity]
) -> None:
    replica.link_identities(
        session,
        MemberIdentity.__table__,  # type: ignore[attr-defined]
        [
            {
                "community_id": member.community_id,
                "platform": identity.platform,
                "external_id": identity.external_id,
                "member_id": member.id,
                "workspace_id": event.workspaceid,
            }
            for identity in identities
        ],
        key=["community_id", "platform", "external_id"],
    )


def _save(session: Session, member: Member, at: datetime) -> None:
    member.updated_at = at
    session.add(member)
    session.flush()


def on_member_joined(session: Session, event: CloudEvent) -> None:
    data = EventData.of(event)
    assert isinstance(data, MemberJoined)
    member = _member(session, event, data.member_id, data.community_id)
    member.status, member.role = "active", data.role
    member.display_name, member.joined_at = data.display_name, data.joined_at
    _save(session, member, data.joined_at)
    _identities(session, event, member, data.identities)


def on_lead_created(session: Session, event: CloudEvent) -> None:
    data = EventData.of(event)
    assert isinstance(data, LeadCreated)
    member = _member(session, event, data.member_id, data.community_id)
    _save(session, member, data.created_at)


def on_status_changed(session: Session, event: CloudEvent) -> None:
    data = EventData.of(event)
    assert isinstance(data, MemberStatusChanged)
    member = _member(session, event, data.member_id, data.community_id)
    member.status = data.to_status
    if data.to_status == "active" and member.joined_at is None:
        member.joined_at = data.changed_at
    _save(session, member, data.changed_at)
    _identities(session, event, member, data.identities)


def on_level_reached(session: Session, event: CloudEvent) -> None:
    data = EventData.of(event)
    assert isinstance(data, MemberLevelReached)
    member = _member(session, event, data.member_id, data.community_id)
    member.level = data.level
    _save(session, member, data.reached_at)


def on_tagged(session: Session, event: CloudEvent) -> None:
    data = EventData.of(event)
    assert isinstance(data, MemberTagged | MemberUntagged)
    member = _member(session, event, data.member_id, data.community_id)
    tags = set(member.tags)
    if isinstance(data, MemberTagged):
        tags.add(data.tag_name)
        at = data.tagged_at
    else:
        tags.discard(data.tag_name)
        at = data.untagged_at
    member.tags = sorted(tags)
    _save(session, member, at)


def on_merged(session: Session, event: CloudEvent) -> None:
    data = EventData.of(event)
    assert isinstance(data, MembersMerged)
    survivor = _member(session, event, data.survivor_id, data.community_id)
    merged = _member(session, event, data.merged_id, data.community_id)
    survivor.tags = sorted(set(survivor.tags) | set(merged.tags))
    survivor.level = max(survivor.level, merged.level)
    merged.status, merged.merged_into = "merged", survivor.id
    _save(session, survivor, data.merged_at)
    _save(session, merged, data.merged_at)
    replica.relink_identities(
        session,
        MemberIdentity.__table__,  # type: ignore[attr-defined]
        merged_id=merged.id,
        survivor_id=survivor.id,
    )


HANDLERS: dict[str, Handler] = {
    CommunityCreated.type: on_community,
    CommunityUpdated.type: on_community,
    GroupCreated.type: on_group,
    GroupUpdated.type: on_group,
    GroupDissolved.type: on_group_dissolved,
    MemberJoined.type: on_member_joined,
    LeadCreated.type: on_lead_created,
    MemberStatusChanged.type: on_status_changed,
    MemberLevelReached.type: on_level_reached,
    MemberTagged.type: on_tagged,
    MemberUntagged.type: on_tagged,
    MembersMerged.type: on_merged,
}
