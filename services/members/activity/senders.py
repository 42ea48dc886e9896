"""Who a bot's report is about: the group it comes from and the member behind the sender.

Every handler of bot-reported activity starts here (activity, lifecycle, moderation, group
membership); they run in one transaction, so the first creates an unknown sender and the
others find them.
"""

from sqlmodel import Session, select

from services.common.clock import now
from services.common.cloudevents import CloudEvent
from services.common.contracts.ingest import GroupActivity
from services.common.ids import new_id
from services.members.community.members import (
    add_member,
    announce_admission,
    find_member_by_identity,
)
from services.members.community.models import Member
from services.members.community.service import get_community
from services.members.groups.models import Group


def sender_of(
    session: Session, event: CloudEvent, data: GroupActivity
) -> tuple[Group, Member] | None:
    """`resolve_sender` for a bot's event, once per event and transaction: the handlers of
    one event (activity, lifecycle, moderation) all ask, and the answer cannot change between
    them."""
    resolved: dict[str, tuple[Group, Member] | None] = session.info.setdefault("senders", {})
    if event.id not in resolved:
        resolved[event.id] = resolve_sender(
            session=session,
            workspace_id=event.workspaceid,
            platform=data.platform,
            group_external_id=data.group_external_id,
            sender_external_id=data.sender_external_id,
            display_name=data.sender_display_name,
        )
    return resolved[event.id]


def resolve_sender(
    *,
    session: Session,
    workspace_id: str,
    platform: str,
    group_external_id: str,
    sender_external_id: str,
    display_name: str | None,
) -> tuple[Group, Member] | None:
    """The group a bot reports from and the member behind the sender. An unknown sender in a
    known group is already in the chat, so becomes an active member (no entry threshold);
    an unknown group is None: bots may report groups operators have not registered."""
    group = session.exec(
        select(Group).where(
            Group.workspace_id == workspace_id,
            Group.platform == platform,
            Group.external_id == group_external_id,
        )
    ).one_or_none()
    if group is None:
        return None
    identity = [(platform, sender_external_id)]
    member = find_member_by_identity(
        session=session, community_id=group.community_id, identities=identity
    )
    if member is None:
        member = Member(
            id=new_id("mbr"),
            workspace_id=workspace_id,
            community_id=group.community_id,
            display_name=display_name or sender_external_id,
            invite_code="",
            joined_at=now(),
        )
        community = get_community(
            session=session, workspace_id=workspace_id, community_id=group.community_id
        )
        if (
            add_member(session=session, community=community, member=member, identities=identity)
            is None
        ):
            member = find_member_by_identity(
                session=session, community_id=group.community_id, identities=identity
            )
            assert member is not None
        else:
            announce_admission(session=session, member=member)
    return group, member
