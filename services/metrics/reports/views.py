"""Routes of weekly reports: the list, one report as JSON, or as Markdown."""

from datetime import date
from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlmodel import col, select

from services.common.db import SessionDep
from services.common.http.pagination import Paging, desc, paginate
from services.metrics import problems
from services.metrics.deps import CommunityDep
from services.metrics.problems import FIGURE_PROBLEMS
from services.metrics.replica.models import Community
from services.metrics.reports.models import ReportPage, ReportSummary, WeeklyReport
from services.metrics.reports.service import path_of

router = APIRouter(
    prefix="/v1/metrics/communities/{community_id}/reports",
    tags=["metrics"],
    responses=FIGURE_PROBLEMS,
)


@router.get("", response_model=ReportPage)
def list_reports(community: CommunityDep, session: SessionDep, paging: Paging) -> ReportPage:
    """The community's weekly reports, newest first (published Mondays 09:00 local)."""
    rows, cursor = paginate(
        session,
        select(WeeklyReport).where(WeeklyReport.community_id == community.community_id),
        [desc(col(WeeklyReport.week_start)), desc(col(WeeklyReport.report_id))],
        paging,
    )
    return ReportPage(
        data=[
            ReportSummary(
                report_id=r.report_id,
                week_start=r.week_start,
                published_at=r.published_at,
                path=path_of(community.community_id, r.week_start),
            )
            for r in rows
        ],
        next_cursor=cursor,
    )


def _report(session: SessionDep, community: Community, week_start: date) -> WeeklyReport:
    report = session.exec(
        select(WeeklyReport).where(
            WeeklyReport.community_id == community.community_id,
            WeeklyReport.week_start == week_start,
        )
    ).one_or_none()
    if report is None:
        raise problems.report_not_found(week_start.isoformat())
    return report


@router.get(
    "/{week_start}.md",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/markdown": {}}}},
)
def report_markdown(
    week_start: date, community: CommunityDep, session: SessionDep
) -> PlainTextResponse:
    """The report of the week starting `week_start` (a Monday), as Markdown with its charts."""
    report = _report(session, community, week_start)
    return PlainTextResponse(report.markdown, media_type="text/markdown; charset=utf-8")


@router.get("/{week_start}")
def report_json(week_start: date, community: CommunityDep, session: SessionDep) -> dict[str, Any]:
    """The report of the week starting `week_start` as JSON: totals against the week before,
    daily members, speakers and messages over 4 weeks with SVG sparklines, health with
    reasons, the alerts opened and the top contributors."""
    return _report(session, community, week_start).body
