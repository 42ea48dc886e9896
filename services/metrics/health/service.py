"""Keeping every group's and community's latest health score, and ranking groups by it."""

from collections import Counter
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from services.common.clock import local_day
from services.common.http.pagination import PageParams, asc, desc, paginate
from services.metrics import telemetry
from services.metrics.health.models import GroupHealthPublic, HealthPublic, HealthScore
from services.metrics.health.score import health
from services.metrics.replica.models import ChatGroup, Community
from services.metrics.rollups.daily import Scope

COMMUNITY_ROW = ""  # the `group_id` of a community's own score


def refresh_scores(session: Session, now: datetime) -> int:
    """Score every open group and every community; returns how many scores were written."""
    written = 0
    bands: Counter[str] = Counter()
    for community in session.exec(select(Community)).all():
        today = local_day(now, community.timezone)
        _store(session, health(session, scope=Scope(community), today=today), community, now)
        written += 1
        groups = session.exec(
            select(ChatGroup).where(
                ChatGroup.community_id == community.community_id, ChatGroup.state != "dissolved"
            )
        ).all()
        for group in groups:
            scored = health(session, scope=Scope(community, group.group_id), today=today)
            _store(session, scored, community, now)
            bands[scored.band] += 1
            written += 1
    for band in ("healthy", "watch", "at_risk"):
        telemetry.GROUPS_BY_HEALTH.labels(band).set(bands[band])
    return written


def _store(session: Session, scored: HealthPublic, community: Community, now: datetime) -> None:
    values = {
        "community_id": community.community_id,
        "group_id": scored.group_id or COMMUNITY_ROW,
        "workspace_id": community.workspace_id,
        "score": scored.score,
        "band": scored.band,
        "components": [c.model_dump(mode="json") for c in scored.components],
        "day": scored.day,
        "computed_at": now,
    }
    statement = insert(HealthScore.__table__).values(**values)  # type: ignore[attr-defined]
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["community_id", "group_id"],
            set_={
                k: statement.excluded[k] for k in values if k not in ("community_id", "group_id")
            },
        )
    )


def rank_groups(
    session: Session, *, community: Community, worst_first: bool, paging: PageParams
) -> tuple[list[GroupHealthPublic], str | None]:
    """The community's groups by their latest score, worst (or best) first."""
    statement = (
        sa.select(
            col(HealthScore.group_id),
            col(HealthScore.score),
            col(HealthScore.band),
            col(HealthScore.day),
            col(HealthScore.components),
            col(ChatGroup.name),
        )
        .join(ChatGroup, col(ChatGroup.group_id) == col(HealthScore.group_id))
        .where(
            col(HealthScore.community_id) == community.community_id,
            col(HealthScore.group_id) != COMMUNITY_ROW,
        )
    )
    order = asc if worst_first else desc
    rows, cursor = paginate(
        session,
        statement,
        [
            order(col(HealthScore.score)),
            order(col(HealthScore.group_id)),
        ],
        paging,
    )
    ranked = []
    for row in rows:
        weakest = sorted(
            (c for c in row.components if c["score"] is not None), key=lambda c: c["score"]
        )[:2]
        ranked.append(
            GroupHealthPublic(
                group_id=row.group_id,
                name=row.name,
                score=row.score,
                band=row.band,
                day=row.day,
                reasons=[c["reason"] for c in weakest],
            )
        )
    return ranked, cursor
