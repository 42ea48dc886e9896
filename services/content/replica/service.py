"""Keeping the replica: upserts that let a newer state win whatever order events arrive in,
and reads scoped to the caller's workspace."""

from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from services.common.replica import Replicated, link_identities, upsert_newer
from services.content import problems
from services.content.replica.models import (
    Community,
    Group,
    MemberIdentity,
    PlannedActivity,
    PlannedSession,
)

_community = Community.__table__  # type: ignore[attr-defined]
_group = Group.__table__  # type: ignore[attr-defined]
_identity = MemberIdentity.__table__  # type: ignore[attr-defined]
_activity = PlannedActivity.__table__  # type: ignore[attr-defined]
_session = PlannedSession.__table__  # type: ignore[attr-defined]


def upsert_community(session: Session, *, community: Replicated) -> None:
    """Write a community's replicated state unless a newer state is already here."""
    _upsert(session, _community, _values(community))


def upsert_group(session: Session, *, group: Replicated) -> None:
    """Write a group's replicated state unless a newer state is already here."""
    _upsert(session, _group, _values(group))


def dissolve_group(session: Session, *, group: Replicated) -> None:
    """A dissolved group stays (publications name it) but is never a target again."""
    _upsert(session, _group, _values(group) | {"dissolved_at": group.at})


def _values(row: Replicated) -> dict[str, Any]:
    return {"id": row.id, "workspace_id": row.workspace_id, "source_updated_at": row.at} | row.state


def replace_plan(
    session: Session,
    *,
    workspace_id: str,
    activity_id: str,
    as_of: datetime,
    sessions: list[dict[str, Any]],
    **state: Any,
) -> bool:
    """Write an activity's plan and its sessions unless a newer plan is already here;
    whether it was written."""
    values = {"id": activity_id, "workspace_id": workspace_id, "source_updated_at": as_of} | state
    if not _upsert(session, _activity, values):
        return False
    session.execute(_session.delete().where(_session.c.activity_id == activity_id))
    if sessions:
        session.execute(
            insert(_session),
            [
                {
                    "activity_id": activity_id,
                    "workspace_id": workspace_id,
                    "community_id": state["community_id"],
                }
                | s
                for s in sessions
            ],
        )
    return True


def _upsert(session: Session, table: Any, values: dict[str, Any]) -> bool:
    return upsert_newer(session, table, values, key=["id"], stamp="source_updated_at")


def get_community(session: Session, *, workspace_id: str, community_id: str) -> Community:
    community = session.get(Community, community_id)
    if community is None or community.workspace_id != workspace_id:
        raise problems.community_not_found(community_id)
    return community


def groups_of(
    session: Session, *, community: Community, platform: str | None = None
) -> list[Group]:
    """The community's groups that can still be posted in, in a stable order."""
    query = select(Group).where(
        Group.workspace_id == community.workspace_id,
        Group.community_id == community.id,
        Group.state != "dissolved",
    )
    if platform is not None:
        query = query.where(Group.platform == platform)
    return list(session.exec(query.order_by(col(Group.id))))


def groups_by_id(session: Session, *, community: Community, group_ids: list[str]) -> list[Group]:
    """The listed groups of the community, in the order listed; unknown ids are skipped."""
    rows = {
        g.id: g
        for g in session.exec(
            select(Group).where(
                Group.workspace_id == community.workspace_id,
                Group.community_id == community.id,
                col(Group.id).in_(group_ids),
            )
        )
    }
    return [rows[i] for i in group_ids if i in rows]


def remember_identities(
    session: Session,
    *,
    workspace_id: str,
    community_id: str,
    member_id: str,
    identities: list[tuple[str, str]],
) -> None:
    """Note which member each (platform, external id) is; the newest join wins."""
    link_identities(
        session,
        _identity,
        [
            {
                "community_id": community_id,
                "platform": platform,
                "external_id": external_id,
                "workspace_id": workspace_id,
                "member_id": member_id,
            }
            for platform, external_id in identities
        ],
        key=["community_id", "platform", "external_id"],
    )


def member_of(
    session: Session, *, workspace_id: str, community_id: str, platform: str, external_id: str
) -> str | None:
    row = session.get(MemberIdentity, (community_id, platform, external_id))
    return row.member_id if row is not None and row.workspace_id == workspace_id else None


def group_by_external_id(
    session: Session, *, workspace_id: str, platform: str, external_id: str
) -> Group | None:
    return session.exec(
        select(Group).where(
            Group.workspace_id == workspace_id,
            Group.platform == platform,
            Group.external_id == external_id,
        )
    ).first()
