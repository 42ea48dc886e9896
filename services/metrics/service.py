"""Metrics' domain logic: folding events into read models, and reading them back."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from services.common.cloudevents import CloudEvent
from services.common.contracts import CommunityCreated, MemberJoined
from services.common.http.problems import not_found
from services.metrics.models import CommunityOverview, MemberJoin, OverviewPublic


def _touch_overview(session: Session, *, workspace_id: str, community_id: str) -> None:
    session.execute(
        insert(CommunityOverview)
        .values(
            community_id=community_id,
            workspace_id=workspace_id,
            members_total=0,
            updated_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing()
    )


def on_community_created(session: Session, event: CloudEvent) -> None:
    """A new community starts with zero members, so its overview answers before anyone joins."""
    data = CommunityCreated.model_validate(event.data)
    _touch_overview(session, workspace_id=event.workspaceid, community_id=data.community_id)


def on_member_joined(session: Session, event: CloudEvent) -> None:
    """Count a join once per member, whatever the delivery count."""
    data = MemberJoined.model_validate(event.data)
    _touch_overview(session, workspace_id=event.workspaceid, community_id=data.community_id)
    new = session.execute(
        insert(MemberJoin)
        .values(
            member_id=data.member_id,
            workspace_id=event.workspaceid,
            community_id=data.community_id,
            joined_at=data.joined_at,
        )
        .on_conflict_do_nothing()
        .returning(MemberJoin.__table__.c.member_id)  # type: ignore[attr-defined]
    ).first()
    if new is not None:
        session.execute(
            CommunityOverview.__table__.update()  # type: ignore[attr-defined]
            .where(CommunityOverview.__table__.c.community_id == data.community_id)  # type: ignore[attr-defined]
            .values(
                members_total=CommunityOverview.__table__.c.members_total + 1,  # type: ignore[attr-defined]
                updated_at=datetime.now(UTC),
            )
        )


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
        .select_from(MemberJoin)
        .where(MemberJoin.community_id == community_id, col(MemberJoin.joined_at) >= since)
    ).one()
    return OverviewPublic(
        community_id=community_id,
        members_total=overview.members_total,
        members_joined_7d=joined_7d,
        updated_at=overview.updated_at,
    )
