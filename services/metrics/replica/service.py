"""Keeping the replicas of communities, groups and members, and counting joins and leaves
into the day they happened in the community's zone.

Every function is idempotent by state, not only by event id: a join of someone present, a
leave of someone gone, or an update older than the copy changes nothing.
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, select

from services.common.clock import as_utc, local_day
from services.common.replica import Replicated, link_identities, relink_identities, upsert_newer
from services.metrics import telemetry
from services.metrics.replica.models import (
    ChatGroup,
    Community,
    GroupPresence,
    Member,
    MemberIdentity,
    StageChange,
)
from services.metrics.rollups.counters import add_to_community_day, add_to_group_day

_community = Community.__table__  # type: ignore[attr-defined]
_group = ChatGroup.__table__  # type: ignore[attr-defined]
_member = Member.__table__  # type: ignore[attr-defined]
_identity = MemberIdentity.__table__  # type: ignore[attr-defined]
_presence = GroupPresence.__table__  # type: ignore[attr-defined]


def upsert_community(session: Session, *, community: Replicated) -> None:
    """Take a community's replicated state unless the copy is newer already."""
    values = {
        "community_id": community.id,
        "workspace_id": community.workspace_id,
        **community.state,
        "members_total": 0,
        "created_at": community.at,
        "updated_at": community.at,
    }
    kept = ("name", "purpose", "timezone", "updated_at")
    upsert_newer(
        session, _community, values, key=["community_id"], stamp="updated_at", overwrite=kept
    )


def upsert_group(session: Session, *, group: Replicated) -> None:
    """Take a group's replicated state unless the copy is newer already. Its community is
    what the first event said."""
    values = {
        "group_id": group.id,
        "workspace_id": group.workspace_id,
        **group.state,
        "members_total": 0,
        "created_at": group.at,
        "updated_at": group.at,
    }
    kept = ("platform", "external_id", "name", "kind", "state", "updated_at")
    upsert_newer(session, _group, values, key=["group_id"], stamp="updated_at", overwrite=kept)


def get_community(session: Session, *, community_id: str) -> Community | None:
    return session.get(Community, community_id)


def member_joined(
    session: Session,
    *,
    workspace_id: str,
    community_id: str,
    member_id: str,
    role: str,
    speakers: Sequence[str],
    referred_by: str | None,
    at: datetime,
) -> bool:
    """Count a member in, unless they are in already; True when they were counted."""
    community = session.get(Community, community_id, with_for_update=True)
    if community is None:
        # Its `community.created` comes first on the same partition; a join without one is
        # from before metrics kept replicas, and is counted nowhere.
        telemetry.UNMATCHED.labels("io.qunyun.member.joined.v1").inc()
        return False
    link_identities(
        session,
        _identity,
        [
            {"community_id": community_id, "speaker": speaker, "member_id": member_id}
            for speaker in speakers
        ],
        key=["community_id", "speaker"],
    )
    member = session.get(Member, member_id, with_for_update=True)
    if member is not None and member.present:
        return False
    at = as_utc(at)
    statement = insert(_member).values(
        member_id=member_id,
        workspace_id=workspace_id,
        community_id=community_id,
        role=role,
        stage="joined",
        stage_since=at,
        present=True,
        joined_at=at,
        referred_by=referred_by,
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["member_id"],
            set_={"present": True, "joined_at": at, "left_at": None, "role": role},
        )
    )
    community.members_total += 1
    session.add(community)
    add_to_community_day(
        session,
        workspace_id=workspace_id,
        community_id=community_id,
        day=local_day(at, community.timezone),
        members_total=community.members_total,
        joined=1,
        referred_joins=1 if referred_by else 0,
    )
    return True


def member_gone(session: Session, *, member_id: str, at: datetime) -> bool:
    """Count a member out (left, removed, banned, merged away), unless gone already."""
    member = session.get(Member, member_id, with_for_update=True)
    if member is None or not member.present:
        return False
    community = session.get(Community, member.community_id, with_for_update=True)
    assert community is not None
    member.present, member.left_at = False, as_utc(at)
    community.members_total -= 1
    session.add_all([member, community])
    add_to_community_day(
        session,
        workspace_id=member.workspace_id,
        community_id=member.community_id,
        day=local_day(at, community.timezone),
        members_total=community.members_total,
        departed=1,
    )
    return True


def members_merged(session: Session, *, survivor_id: str, merged_id: str, at: datetime) -> None:
    """The merged record leaves the count; its accounts now speak for the survivor."""
    member_gone(session, member_id=merged_id, at=at)
    relink_identities(session, _identity, merged_id=merged_id, survivor_id=survivor_id)


def stage_changed(
    session: Session,
    *,
    event_id: str,
    workspace_id: str,
    community_id: str,
    member_id: str,
    from_stage: str,
    to_stage: str,
    at: datetime,
) -> None:
    """Record a lifecycle step for the funnel, and the member's stage since when."""
    session.execute(
        insert(StageChange.__table__)  # type: ignore[attr-defined]
        .values(
            event_id=event_id,
            workspace_id=workspace_id,
            community_id=community_id,
            member_id=member_id,
            from_stage=from_stage,
            to_stage=to_stage,
            changed_at=as_utc(at),
        )
        .on_conflict_do_nothing()
    )
    session.execute(
        _member.update()
        .where(_member.c.member_id == member_id, _member.c.stage_since <= as_utc(at))
        .values(stage=to_stage, stage_since=as_utc(at))
    )


def group_known(session: Session, *, workspace_id: str, platform: str, external_id: str) -> bool:
    """Whether the replicas know the group by the bot's names for it, and its community."""
    return (
        session.execute(
            sa.select(_group.c.group_id)
            .join(_community, _community.c.community_id == _group.c.community_id)
            .where(
                _group.c.workspace_id == workspace_id,
                _group.c.platform == platform,
                _group.c.external_id == external_id,
            )
        ).first()
        is not None
    )


def group_membership_changed(
    session: Session,
    *,
    workspace_id: str,
    platform: str,
    group_external_id: str,
    speaker: str,
    present: bool,
    at: datetime,
    invited: bool = False,
) -> bool:
    """A bot saw someone join (`invited` by another member) or leave a group; True when the
    group's count changed."""
    group = session.exec(
        select(ChatGroup)
        .where(
            ChatGroup.workspace_id == workspace_id,
            ChatGroup.platform == platform,
            ChatGroup.external_id == group_external_id,
        )
        .with_for_update()
    ).one_or_none()
    if group is None:
        kind = "joined" if present else "left"
        telemetry.UNMATCHED.labels(f"io.qunyun.ingest.group_member_{kind}.v1").inc()
        return False
    community = session.get(Community, group.community_id)
    if community is None:
        return False
    at = as_utc(at)
    was = session.execute(
        sa.select(_presence.c.present).where(
            _presence.c.group_id == group.group_id, _presence.c.speaker == speaker
        )
    ).scalar_one_or_none()
    if bool(was) == present:
        return False
    statement = insert(_presence).values(
        group_id=group.group_id, speaker=speaker, present=present, joined_at=at
    )
    update: dict[str, object] = {"present": present}
    if present:
        update["joined_at"] = at
    session.execute(
        statement.on_conflict_do_update(index_elements=["group_id", "speaker"], set_=update)
    )
    group.members_total += 1 if present else -1
    session.add(group)
    add_to_group_day(
        session,
        workspace_id=workspace_id,
        community_id=group.community_id,
        group_id=group.group_id,
        day=local_day(at, community.timezone),
        members_total=group.members_total,
        **({"joined": 1} if present else {"departed": 1}),
    )
    if invited:
        add_to_community_day(
            session,
            workspace_id=workspace_id,
            community_id=group.community_id,
            day=local_day(at, community.timezone),
            invited_group_joins=1,
        )
    return True
