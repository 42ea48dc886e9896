"""CSV exports of each report, streamed with a header row."""

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine
from sqlmodel import Session

from services.common.clock import local_day, now
from services.common.http.pagination import MAX_LIMIT, PageParams
from services.metrics import problems
from services.metrics.contributors.service import contributors
from services.metrics.deps import CommunityDep, DayRangeDep
from services.metrics.exports.service import DAY_COLUMNS, csv_lines, daily_rows, rows_of
from services.metrics.funnel.service import funnel
from services.metrics.health.service import rank_groups
from services.metrics.problems import SERIES_PROBLEMS
from services.metrics.replica.models import ChatGroup
from services.metrics.retention.service import COHORT_WEEKS, cohorts, period_retention
from services.metrics.rollups.daily import Scope
from services.metrics.rollups.series import METRICS, Interval, series

router = APIRouter(
    prefix="/v1/metrics/communities/{community_id}/exports",
    tags=["metrics"],
    responses=SERIES_PROBLEMS,
)

_CSV = {"content": {"text/csv": {}}, "description": "CSV with a header row, streamed."}


def _csv(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> StreamingResponse:
    return StreamingResponse(
        csv_lines(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/daily.csv", response_class=StreamingResponse, responses={200: _CSV})
def export_daily(
    request: Request,
    community: CommunityDep,
    days: DayRangeDep,
    group_id: Annotated[str | None, Query(max_length=64, description="One group only.")] = None,
) -> StreamingResponse:
    """Every daily stat for each local day of the range (community, or one group)."""
    engine = request.app.state.engine
    if group_id is not None:
        with Session(engine) as session:
            group = session.get(ChatGroup, group_id)
        if group is None or group.community_id != community.community_id:
            raise problems.group_not_found(group_id)
    rows = daily_rows(
        engine, community=community, group_id=group_id, first=days.first, last=days.last
    )
    return _csv("daily", [*DAY_COLUMNS, "violations_by_kind"], rows)


@router.get("/series.csv", response_class=StreamingResponse, responses={200: _CSV})
def export_series(
    request: Request,
    community: CommunityDep,
    days: DayRangeDep,
    metric: Annotated[
        str,
        Query(description="A metric of `/series`.", json_schema_extra={"enum": list(METRICS)}),
    ],
    interval: Interval = Interval.day,
) -> StreamingResponse:
    """One metric of the community by day, week or month."""
    if metric not in METRICS:
        raise problems.metric_unknown(metric, list(METRICS))

    def produce(session: Session) -> Iterator[list[Any]]:
        points = series(
            session,
            scope=Scope(community),
            metric=metric,
            interval=interval,
            first=days.first,
            last=days.last,
        )
        return ([p.start, p.value] for p in points)

    return _csv(f"series-{metric}", ["start", metric], rows_of(request.app.state.engine, produce))


@router.get("/cohorts.csv", response_class=StreamingResponse, responses={200: _CSV})
def export_cohorts(
    request: Request, community: CommunityDep, days: DayRangeDep
) -> StreamingResponse:
    """Cohorts by join week: size, then the share active in weeks 1..12."""

    def produce(session: Session) -> Iterator[list[Any]]:
        today = local_day(now(), community.timezone)
        found = cohorts(session, community=community, first=days.first, last=days.last, today=today)
        return ([c.week, c.size, *c.retention] for c in found)

    header = ["week", "size", *(f"week_{k}" for k in range(1, COHORT_WEEKS + 1))]
    return _csv("cohorts", header, rows_of(request.app.state.engine, produce))


@router.get("/retention.csv", response_class=StreamingResponse, responses={200: _CSV})
def export_retention(
    request: Request, community: CommunityDep, days: DayRangeDep, interval: Interval = Interval.week
) -> StreamingResponse:
    """Period retention for each period of the range."""

    def produce(session: Session) -> Iterator[list[Any]]:
        periods = period_retention(
            session, community=community, interval=interval, first=days.first, last=days.last
        )
        return ([p.start, p.active, p.retained, p.retention] for p in periods)

    header = ["start", "active", "retained", "retention"]
    return _csv("retention", header, rows_of(request.app.state.engine, produce))


@router.get("/funnel.csv", response_class=StreamingResponse, responses={200: _CSV})
def export_funnel(
    request: Request, community: CommunityDep, days: DayRangeDep
) -> StreamingResponse:
    """The lifecycle funnel over the range, a row per stage."""

    def produce(session: Session) -> Iterator[list[Any]]:
        stages = funnel(session, community=community, first=days.first, last=days.last)
        return (
            [s.stage, s.members_now, s.entered, s.advanced, s.conversion, s.median_days_in_stage]
            for s in stages
        )

    header = ["stage", "members_now", "entered", "advanced", "conversion", "median_days_in_stage"]
    return _csv("funnel", header, rows_of(request.app.state.engine, produce))


def _pages(
    engine: Engine, fetch: Callable[[Session, PageParams], tuple[list[Any], str | None]]
) -> Iterator[Any]:
    """Every item of a paged list, a page per short session, following the cursors."""
    cursor: str | None = None
    while True:
        with Session(engine) as session:
            items, cursor = fetch(session, PageParams(limit=MAX_LIMIT, cursor=cursor))
        yield from items
        if cursor is None:
            return


@router.get("/groups.csv", response_class=StreamingResponse, responses={200: _CSV})
def export_group_ranking(request: Request, community: CommunityDep) -> StreamingResponse:
    """The community's groups by their latest health score, worst first."""

    def fetch(session: Session, paging: PageParams) -> tuple[list[Any], str | None]:
        return rank_groups(session, community=community, worst_first=True, paging=paging)

    rows = (
        [g.group_id, g.name, g.score, g.band, g.day, " | ".join(g.reasons)]
        for g in _pages(request.app.state.engine, fetch)
    )
    return _csv("groups", ["group_id", "name", "score", "band", "day", "reasons"], rows)


@router.get("/contributors.csv", response_class=StreamingResponse, responses={200: _CSV})
def export_contributors(
    request: Request, community: CommunityDep, days: DayRangeDep
) -> StreamingResponse:
    """Every speaker of the range by messages, with KOL candidates marked."""

    def fetch(session: Session, paging: PageParams) -> tuple[list[Any], str | None]:
        return contributors(
            session, community=community, first=days.first, last=days.last, paging=paging
        )

    header = ["speaker", "member_id", "role", "messages", "active_days", "replies", "kol_candidate"]
    rows = (
        [c.speaker, c.member_id, c.role, c.messages, c.active_days, c.replies, c.kol_candidate]
        for c in _pages(request.app.state.engine, fetch)
    )
    return _csv("contributors", header, rows)
