"""Weekly reports: due Monday 09:00 local (DST included), published once as an event, and
retrievable as JSON and Markdown with SVG sparklines."""

from datetime import date

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from services.common.periodic import run_job_once
from services.metrics.app import JOBS
from services.metrics.replica.models import Community
from services.metrics.reports.service import due_week
from tests.integration.metrics.conftest import Feed, MetricsApi, at, message

REPORTS_JOB = next(job for job in JOBS if job.name == "metrics-weekly-reports")


def test_a_report_is_due_at_nine_on_monday_in_the_communitys_zone(
    feed: Feed, engine: Engine
) -> None:
    feed.community("cmt_sh", timezone="Asia/Shanghai")
    feed.community("cmt_ny", timezone="America/New_York")
    with Session(engine) as session:
        shanghai, new_york = session.get(Community, "cmt_sh"), session.get(Community, "cmt_ny")
        assert shanghai is not None and new_york is not None
        # Monday 9 March 09:00 in Shanghai is 01:00 UTC.
        assert due_week(shanghai, at("2026-03-09T00:59:59")) is None
        assert due_week(shanghai, at("2026-03-09T01:00:00")) == date(2026, 3, 2)
        # New York went to summer time on Sunday 8 March: 09:00 EDT is 13:00 UTC, not 14:00.
        assert due_week(new_york, at("2026-03-09T12:59:59")) is None
        assert due_week(new_york, at("2026-03-09T13:00:00")) == date(2026, 3, 2)


def _week(feed: Feed) -> None:
    feed.community()
    feed.group()
    feed.join("mbr_a", "a", at("2026-03-02T01:00:00"))
    feed.join("mbr_b", "b", at("2026-03-03T01:00:00"))
    feed(
        message("a", at("2026-03-02T02:00:00")),
        message("a", at("2026-03-04T02:00:00")),
        message("b", at("2026-03-05T02:00:00")),
    )


def test_the_report_is_published_once_as_an_event(feed: Feed, engine: Engine) -> None:
    _week(feed)
    assert run_job_once(engine, REPORTS_JOB, at("2026-03-09T00:30:00")) == 0
    assert run_job_once(engine, REPORTS_JOB, at("2026-03-09T01:00:00")) == 1
    assert run_job_once(engine, REPORTS_JOB, at("2026-03-09T01:05:00")) == 0
    with Session(engine) as session:
        events = session.execute(sa.text("SELECT convert_from(payload, 'UTF8') FROM outbox")).all()
        body = session.execute(sa.text("SELECT body FROM weekly_report")).scalar_one()
    assert len(events) == 1 and '"week_start":"2026-03-02"' in events[0][0]
    totals = body["totals"]
    assert (totals["members_total"], totals["joined"], totals["messages"], totals["speakers"]) == (
        2,
        2,
        3,
        2,
    )
    assert totals["speaking_rate"] == 1.0
    assert body["previous"]["members_total"] == 0
    assert body["charts"]["messages"].startswith("<svg")
    assert len(body["daily"]) == 28
    assert body["top_contributors"][0] == {
        "speaker": "wechat:a",
        "member_id": "mbr_a",
        "messages": 2,
    }


def test_the_report_reads_as_json_and_markdown(metrics: MetricsApi) -> None:
    _week(metrics.feed)
    run_job_once(metrics.engine, REPORTS_JOB, at("2026-03-09T01:00:00"))
    base = "/v1/metrics/communities/cmt_1/reports"
    listed = metrics.get(base).json()
    assert [r["week_start"] for r in listed["data"]] == ["2026-03-02"]
    assert metrics.get(listed["data"][0]["path"]).json()["totals"]["messages"] == 3
    markdown = metrics.get(f"{base}/2026-03-02.md")
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "| Messages | 3 | +3 |" in markdown.text
    assert "data:image/svg+xml;base64," in markdown.text
    assert metrics.get(f"{base}/2026-02-23").status_code == 404
