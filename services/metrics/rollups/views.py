"""Routes of the daily stats: overview, days, and time series by day, week or month."""

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import Session, func, select

from services.common.clock import local_day, now
from services.common.db import SessionDep
from services.metrics import problems
from services.metrics.deps import CommunityDep, DayRangeDep, GroupDep
from services.metrics.problems import SERIES_PROBLEMS
from services.metrics.replica.models import ChatGroup
from services.metrics.rollups.daily import Scope, daily_stats
from services.metrics.rollups.models import (
    DailyPublic,
    OverviewPublic,
    PointPublic,
    SeriesPublic,
)
from services.metrics.rollups.series import METRICS, Interval, series

router = APIRouter(
    prefix="/v1/metrics/communities/{community_id}", tags=["metrics"], responses=SERIES_PROBLEMS
)

# An enum in the schema (what the route takes); another name is a 422 `metric-unknown`.
MetricQuery = Annotated[
    str,
    Query(
        description="A metric, see docs/metrics.md.",
        json_schema_extra={"enum": list(METRICS)},
    ),
]
IntervalQuery = Annotated[Interval, Query(description="Bucket: day, ISO week (Monday), month.")]


@router.get("/overview", response_model=OverviewPublic)
def community_overview(community: CommunityDep, session: SessionDep) -> OverviewPublic:
    """Headline numbers of a community today, from metrics' own read model (eventually
    consistent with the members service)."""
    today = local_day(now(), community.timezone)
    week = daily_stats(
        session,
        scope=Scope(community),
        first=today - timedelta(days=6),
        last=today,
    )
    groups = session.exec(
        select(func.count())
        .select_from(ChatGroup)
        .where(ChatGroup.community_id == community.community_id, ChatGroup.state != "dissolved")
    ).one()
    return OverviewPublic(
        community_id=community.community_id,
        timezone=community.timezone,
        members_total=community.members_total,
        members_joined_7d=sum(d.joined for d in week),
        groups_total=groups,
        today=week[-1],
        updated_at=community.updated_at,
    )


@router.get("/daily", response_model=DailyPublic)
def community_daily(community: CommunityDep, days: DayRangeDep, session: SessionDep) -> DailyPublic:
    """Every daily stat of a community for each local day of the range."""
    return DailyPublic(
        community_id=community.community_id,
        group_id=None,
        timezone=community.timezone,
        days=daily_stats(session, scope=Scope(community), first=days.first, last=days.last),
    )


@router.get("/groups/{group_id}/daily", response_model=DailyPublic)
def group_daily(
    community: CommunityDep, group: GroupDep, days: DayRangeDep, session: SessionDep
) -> DailyPublic:
    """Every daily stat of one group for each local day of the range (check-ins and
    attendance are counted per community only)."""
    return DailyPublic(
        community_id=community.community_id,
        group_id=group.group_id,
        timezone=community.timezone,
        days=daily_stats(
            session, scope=Scope(community, group.group_id), first=days.first, last=days.last
        ),
    )


@router.get("/series", response_model=SeriesPublic)
def community_series(
    community: CommunityDep,
    days: DayRangeDep,
    session: SessionDep,
    metric: MetricQuery,
    interval: IntervalQuery = Interval.day,
) -> SeriesPublic:
    """One metric of a community over time, by day, week or month."""
    return _series(session, Scope(community), metric, interval, days.first, days.last)


@router.get("/groups/{group_id}/series", response_model=SeriesPublic)
def group_series(
    community: CommunityDep,
    group: GroupDep,
    days: DayRangeDep,
    session: SessionDep,
    metric: MetricQuery,
    interval: IntervalQuery = Interval.day,
) -> SeriesPublic:
    """One metric of one group over time, by day, week or month."""
    return _series(
        session, Scope(community, group.group_id), metric, interval, days.first, days.last
    )


def _series(
    session: Session, scope: Scope, metric: str, interval: Interval, first: date, last: date
) -> SeriesPublic:
    if metric not in METRICS:
        raise problems.metric_unknown(metric, list(METRICS))
    points = series(session, scope=scope, metric=metric, interval=interval, first=first, last=last)
    return SeriesPublic(
        community_id=scope.community.community_id,
        group_id=scope.group_id,
        metric=metric,
        interval=interval.value,
        points=[PointPublic(start=p.start, value=p.value) for p in points],
    )
