"""Chat activity: what bots report from the groups, folded into each member's record."""

from datetime import date

import sqlalchemy as sa
from sqlmodel import Field, Session, select

from services.common.ids import new_id
from services.members.groups import Group
from services.members.models import Member, MembersTable, now
from services.members.service import (
    add_member,
    announce_admission,
    find_member_by_identity,
    get_community,
)


class ActivityDay(MembersTable, table=True):
    """One member's participation on one day (in the community's timezone): the basis of
    streaks of activity, the lifecycle's "active on N days", and inactivity pruning."""

    __tablename__ = "member_activity_day"
    __table_args__ = (sa.Index("ix_member_activity_day_community_day", "community_id", "day"),)

    member_id: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    workspace_id: str
    community_id: str
    messages: int = 0


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
