"""Routes of health: a fresh score with its reasons, and groups ranked by their latest one."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.common.clock import local_day, now
from services.common.db import SessionDep
from services.common.http.pagination import Paging
from services.metrics.deps import CommunityDep, GroupDep
from services.metrics.health import service
from services.metrics.health.models import GroupRankingPublic, HealthPublic
from services.metrics.health.score import health
from services.metrics.problems import FIGURE_PROBLEMS
from services.metrics.rollups.daily import Scope

router = APIRouter(
    prefix="/v1/metrics/communities/{community_id}", tags=["metrics"], responses=FIGURE_PROBLEMS
)


@router.get("/health", response_model=HealthPublic)
def community_health(community: CommunityDep, session: SessionDep) -> HealthPublic:
    """The community's health score (0–100) for the 14 days ending yesterday: each
    component's value, the counts behind it, its contribution and the sentence to read."""
    return health(session, scope=Scope(community), today=local_day(now(), community.timezone))


@router.get("/groups/{group_id}/health", response_model=HealthPublic)
def group_health(community: CommunityDep, group: GroupDep, session: SessionDep) -> HealthPublic:
    """One group's health score, component by component."""
    return health(
        session,
        scope=Scope(community, group.group_id),
        today=local_day(now(), community.timezone),
    )


@router.get("/groups", response_model=GroupRankingPublic)
def group_ranking(
    community: CommunityDep,
    session: SessionDep,
    paging: Paging,
    order: Annotated[
        str, Query(pattern="^(worst|best)$", description="`worst` first (default) or `best`.")
    ] = "worst",
) -> GroupRankingPublic:
    """The community's groups ranked by their latest health score (refreshed every 15
    minutes), with the reasons of each group's two weakest components."""
    data, cursor = service.rank_groups(
        session, community=community, worst_first=order == "worst", paging=paging
    )
    return GroupRankingPublic(data=data, next_cursor=cursor)
