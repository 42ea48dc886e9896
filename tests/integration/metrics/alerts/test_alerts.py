"""Alerts on a hand-computed story: each opens once, and resolves once, only after the group
has stayed clear of it (no flapping)."""

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from services.common.periodic import run_job_once
from services.metrics.app import JOBS
from tests.integration.metrics.conftest import Feed, at, message
from tests.integration.metrics.stories import day_at


def _outbox(engine: Engine) -> list[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.execute(
            sa.text(
                "SELECT headers, convert_from(payload, 'UTF8')::jsonb->>'kind' FROM outbox "
                "ORDER BY seq"
            )
        ).all()
    return [(dict(headers)["ce_type"].split(".")[-2], kind) for headers, kind in rows]


def test_an_alert_opens_once_and_resolves_once(feed: Feed, engine: Engine) -> None:
    feed.community()
    feed.group()
    feed.join("mbr_a", "a", at("2026-02-01T01:00:00"))
    feed(*[message("a", day_at(date(2026, 3, d))) for d in range(1, 21)])
    alerts_job = next(job for job in JOBS if job.name == "metrics-alerts")
    now = at("2026-03-31T04:00:00")
    run_job_once(engine, alerts_job, now)
    run_job_once(engine, alerts_job, now + timedelta(minutes=10))
    opened = _outbox(engine)
    assert sorted(opened) == [("alert_opened", "silent_group"), ("alert_opened", "speakers_drop")]

    feed(message("a", at("2026-03-31T05:00:00")))  # someone speaks again
    run_job_once(engine, alerts_job, now + timedelta(minutes=20))
    assert len(_outbox(engine)) == 2  # over once is not over: no flapping
    run_job_once(engine, alerts_job, now + timedelta(minutes=30))
    run_job_once(engine, alerts_job, now + timedelta(minutes=40))
    assert _outbox(engine)[2:] == [("alert_resolved", "silent_group")]
    with Session(engine) as session:
        states = session.execute(
            sa.text("SELECT kind, resolved_at IS NULL FROM alert ORDER BY kind")
        ).all()
    assert [tuple(s) for s in states] == [("silent_group", False), ("speakers_drop", True)]
