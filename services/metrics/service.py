"""Metrics' domain logic: folding events into read models, and reading them back.

Handlers are idempotent by state, not only by event id: a join for a member already present,
or a removal of one already gone, changes nothing.
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from services.common.cloudevents import CloudEvent
from services.common.contracts import (
    CommunityCreated,
    MemberJoined,
    MembersMerged,
    MemberStatusChanged,
)
from services.common.http.problems import not_found
from services.metrics.models import CommunityOverview, MemberPresence, OverviewPublic

_overview = CommunityOverview.__table__  # type: ignore[attr-defined]
_presence = MemberPresence.__table__  # type: ignore[attr-defined]
_GONE = {"removed", "banned", "merged"}


def _touch_overview(session: Session, *, workspace_id: str, community_id: str) -> None:
    session.execute(
        insert(_overview)
        .values(
            community_id=community_id,
            workspace_id=workspace_id,
            members_total=0,
            updated_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing()
    )


def _add_to_total(session: Session, community_id: str, delta: int) -> None:
    session.execute(
        _overview.update()
        .where(_overview.c.community_id == community_id)
        .values(members_total=_overview.c.members_total + delta, updated_at=datetime.now(UTC))
    )


def on_community_created(session: Session, event: CloudEvent) -> None:
    """A new community starts with zero members, so its overview answers before anyone joins."""
    data = CommunityCreated.model_validate(event.data)
    _touch_overview(session, workspace_id=event.workspaceid, community_id=data.community_id)


def on_member_joined(session: Session, event: CloudEvent) -> None:
    """Count a member in, unless they are in already."""
    data = MemberJoined.model_validate(event.data)
    _touch_overview(session, workspace_id=event.workspaceid, community_id=data.community_id)
    was_present = session.execute(
        sa.select(_presence.c.present)
        .where(_presence.c.member_id == data.member_id)
        .with_for_update()
    ).scalar_one_or_none()
    if was_present:
        return
    session.execute(
        insert(_presence)
        .values(
            member_id=data.member_id,
            workspace_id=event.workspaceid,
            community_id=data.community_id,
            present=True,
            joined_at=data.joined_at,
        )
        .on_conflict_do_update(
            index_elements=["member_id"], set_={"present": True, "joined_at": data.joined_at}
        )
    )
    _add_to_total(session, data.community_id, +1)


def on_member_gone(session: Session, *, member_id: str, community_id: str) -> None:
    left = session.execute(
        _presence.update()
        .where(_presence.c.member_id == member_id, _presence.c.present.is_(True))
        .values(present=False)
        .returning(_presence.c.member_id)
    ).first()
    if left is not None:
        _add_to_total(session, community_id, -1)


def on_member_status_changed(session: Session, event: CloudEvent) -> None:
    """Removed, banned or merged members leave the count."""
    data = MemberStatusChanged.model_validate(event.data)
    if data.to_status in _GONE:
        on_member_gone(session, member_id=data.member_id, community_id=data.community_id)


def on_members_merged(session: Session, event: CloudEvent) -> None:
    data = MembersMerged.model_validate(event.data)
    on_member_gone(session, member_id=data.merged_id, community_id=data.community_id)


def community_overview(*, session: Session, workspace_id: str, community_id: str) -> OverviewPublic:
    """The headline numbers of one community."""
    overview = session.exec(
        select(CommunityOverview).where(
            CommunityOverview.community_id == community_id,
            CommunityOverview.workspace_id == workspace_id,
        )
    ).one_or_none()
    if overview is None:
        raise not_found("community", community_id)
    since = datetime.now(UTC) - timedelta(days=7)
    joined_7d = session.exec(
        select(func.count())
        .select_from(MemberPresence)
        .where(MemberPresence.community_id == community_id, col(MemberPresence.joined_at) >= since)
    ).one()
    return OverviewPublic(
        community_id=community_id,
        members_total=overview.members_total,
        members_joined_7d=joined_7d,
        updated_at=overview.updated_at,
    )
