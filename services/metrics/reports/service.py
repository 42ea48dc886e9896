"""The weekly report of a community: last week's numbers against the week before, small
charts of members, speakers and messages, its health with reasons, the alerts opened, and
the top contributors. Published every Monday at 09:00 in the community's timezone, as an
event and through the API.
"""

from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from services.common.clock import as_utc, day_bounds, local_day, zone
from services.common.contracts import WeeklyReportPublished
from services.common.http.pagination import PageParams
from services.common.ids import new_id
from services.common.outbox import emit
from services.metrics import telemetry
from services.metrics.contributors.service import contributors
from services.metrics.health.score import health
from services.metrics.replica.models import Community
from services.metrics.reports.models import WeeklyReport
from services.metrics.reports.render import markdown_of
from services.metrics.reports.sparkline import sparkline
from services.metrics.rollups.daily import Scope, daily_stats, ratio
from services.metrics.rollups.series import Interval, series

PUBLISH_AT = time(9, 0)  # Monday, local
SOURCE = "/metrics"


def path_of(community_id: str, week_start: date) -> str:
    return f"/v1/metrics/communities/{community_id}/reports/{week_start.isoformat()}"


def due_week(community: Community, now: datetime) -> date | None:
    """The Monday of the week whose report is due by `now`, or None before Monday 09:00."""
    today = local_day(now, community.timezone)
    monday = today - timedelta(days=today.weekday())
    due = datetime.combine(monday, PUBLISH_AT, tzinfo=zone(community.timezone))
    return monday - timedelta(days=7) if as_utc(now) >= as_utc(due) else None


def publish_due_reports(session: Session, now: datetime) -> int:
    """Publish every community's report of last week once it is due and not yet out."""
    published = 0
    for community in session.exec(select(Community)).all():
        week = due_week(community, now)
        if week is None or _exists(session, community.community_id, week):
            continue
        if (
            as_utc(community.created_at)
            >= day_bounds(week + timedelta(days=7), community.timezone).start
        ):
            continue  # the community did not exist that week
        publish_report(session, community=community, week_start=week, now=now)
        published += 1
    return published


def _exists(session: Session, community_id: str, week: date) -> bool:
    return (
        session.exec(
            select(WeeklyReport.report_id).where(
                WeeklyReport.community_id == community_id, WeeklyReport.week_start == week
            )
        ).first()
        is not None
    )


def publish_report(
    session: Session, *, community: Community, week_start: date, now: datetime
) -> WeeklyReport:
    body = build_report(session, community=community, week_start=week_start)
    report = WeeklyReport(
        report_id=new_id("rpt"),
        workspace_id=community.workspace_id,
        community_id=community.community_id,
        week_start=week_start,
        body=body,
        markdown=markdown_of(body),
        published_at=now,
    )
    session.add(report)
    totals = body["totals"]
    emit(
        session,
        WeeklyReportPublished(
            report_id=report.report_id,
            community_id=community.community_id,
            week_start=week_start,
            week_end=week_start + timedelta(days=6),
            members_total=totals["members_total"],
            joined=totals["joined"],
            left=totals["left"],
            messages=totals["messages"],
            speakers=totals["speakers"],
            health_score=body["health"]["score"],
            path=path_of(community.community_id, week_start),
            published_at=now,
        ),
        source=SOURCE,
        workspace_id=community.workspace_id,
        community_id=community.community_id,
        subject=report.report_id,
    )
    telemetry.REPORTS_PUBLISHED.inc()
    return report


def _week_totals(session: Session, community: Community, first: date) -> dict[str, Any]:
    days = daily_stats(session, scope=Scope(community), first=first, last=first + timedelta(days=6))
    (speakers,) = series(
        session,
        scope=Scope(community),
        metric="speakers",
        interval=Interval.week,
        first=first,
        last=first + timedelta(days=6),
    )
    messages = sum(d.messages for d in days)
    return {
        "members_total": days[-1].members_total,
        "joined": sum(d.joined for d in days),
        "left": sum(d.left for d in days),
        "net": sum(d.net for d in days),
        "messages": messages,
        "member_messages": sum(d.member_messages for d in days),
        "operator_share": ratio(sum(d.operator_messages for d in days), messages),
        "speakers": speakers.value,
        "speaking_rate": ratio(float(speakers.value or 0), days[-1].members_total),
        "newcomers": sum(d.newcomers for d in days),
        "check_ins": sum(d.check_ins for d in days),
        "attendances": sum(d.attendances for d in days),
        "violations": sum(d.violations for d in days),
        "negative_messages": sum(d.negative_messages for d in days),
    }


def build_report(session: Session, *, community: Community, week_start: date) -> dict[str, Any]:
    """The report of the local week starting `week_start` (a Monday), as JSON."""
    week_end = week_start + timedelta(days=6)
    trend = daily_stats(
        session, scope=Scope(community), first=week_start - timedelta(days=21), last=week_end
    )
    scored = health(session, scope=Scope(community), today=week_end + timedelta(days=1))
    span = (
        day_bounds(week_start, community.timezone).start,
        day_bounds(week_end, community.timezone).end,
    )
    alerts = session.execute(
        sa.text(
            "SELECT kind, group_id, reason FROM alert WHERE community_id = :community "
            "AND opened_at >= :start AND opened_at < :end ORDER BY opened_at"
        ),
        {"community": community.community_id, "start": span[0], "end": span[1]},
    ).all()
    top, _ = contributors(
        session,
        community=community,
        first=week_start,
        last=week_end,
        paging=PageParams(limit=5, cursor=None),
    )
    weakest = sorted(
        (c for c in scored.components if c.score is not None), key=lambda c: c.score or 0
    )[:3]
    return {
        "community_id": community.community_id,
        "name": community.name,
        "timezone": community.timezone,
        "week_start": week_start.isoformat(),
        "week_end": week_end.isoformat(),
        "totals": _week_totals(session, community, week_start),
        "previous": _week_totals(session, community, week_start - timedelta(days=7)),
        "daily": [
            {
                "day": d.day.isoformat(),
                "members_total": d.members_total,
                "speakers": d.speakers,
                "messages": d.messages,
            }
            for d in trend
        ],
        "charts": {
            "members": sparkline([d.members_total for d in trend], title="members, 4 weeks"),
            "speakers": sparkline(
                [d.speakers for d in trend], title="speakers a day, 4 weeks", colour="#1f5fa8"
            ),
            "messages": sparkline(
                [d.messages for d in trend], title="messages a day, 4 weeks", colour="#a8501f"
            ),
        },
        "health": {
            "score": scored.score,
            "band": scored.band,
            "reasons": [c.reason for c in weakest],
        },
        "alerts": [
            {"kind": a.kind, "group_id": a.group_id or None, "reason": a.reason} for a in alerts
        ],
        "top_contributors": [
            {"speaker": c.speaker, "member_id": c.member_id, "messages": c.messages} for c in top
        ],
    }
