"""Routes of retention: cohorts by join week, and period-over-period retention."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.common.clock import local_day, now
from services.common.db import SessionDep
from services.metrics.deps import CommunityDep, DayRangeDep
from services.metrics.problems import FIGURE_PROBLEMS
from services.metrics.retention import service
from services.metrics.retention.models import CohortsPublic, RetentionPublic
from services.metrics.rollups.series import Interval

router = APIRouter(
    prefix="/v1/metrics/communities/{community_id}", tags=["metrics"], responses=FIGURE_PROBLEMS
)


@router.get("/cohorts", response_model=CohortsPublic)
def community_cohorts(
    community: CommunityDep, days: DayRangeDep, session: SessionDep
) -> CohortsPublic:
    """Members by the local week they joined (join weeks within the range) and the share of
    each cohort who spoke in each of the 12 weeks after."""
    return CohortsPublic(
        community_id=community.community_id,
        timezone=community.timezone,
        cohorts=service.cohorts(
            session,
            community=community,
            first=days.first,
            last=days.last,
            today=local_day(now(), community.timezone),
        ),
    )


@router.get("/retention", response_model=RetentionPublic)
def community_retention(
    community: CommunityDep,
    days: DayRangeDep,
    session: SessionDep,
    interval: Annotated[Interval, Query(description="Period: day, week or month.")] = Interval.week,
) -> RetentionPublic:
    """Period retention: |active now ∩ active before| / |active before| for each period."""
    return RetentionPublic(
        community_id=community.community_id,
        interval=interval.value,
        periods=service.period_retention(
            session, community=community, interval=interval, first=days.first, last=days.last
        ),
    )
