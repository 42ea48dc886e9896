"""The health score and alerts on hand-computed stories.

Health, for the 14 days ending Mon 30 March 2026 (today is the 31st), ten members:
- activity trend: members' messages 8 in 14 days (0.571/day) against 28 in the 28 days
  before (1/day): 0.5714, score 0.5714, weight 25;
- speaking rate: a and b spoke of 10 members: 0.2, score 0.2 / 0.33 = 0.6061, weight 20;
- retention: b spoke the week before, nobody of them last week: 0 of 1, score 0, weight 20;
- growth: nobody joined or left in 28 days: 0.0, score 0.5, weight 15;
- content response: no data, its weight 10 drops out;
- operator-only days: 3 of 14, score 1 − 3/14 = 0.7857, weight 10.
Score = 100 × (25×0.5714 + 20×0.6061 + 0 + 15×0.5 + 10×0.7857) / 90 = 46.40 → 46, "watch".
"""

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from services.common.periodic import run_job_once
from services.metrics.app import JOBS
from services.metrics.health.score import health
from services.metrics.replica.models import Community
from services.metrics.rollups.daily import Scope
from tests.integration.metrics.conftest import Feed, at, message


def _day(d: date, hour: int = 2) -> datetime:
    return at(f"{d.isoformat()}T{hour:02d}:00:00")


def _health_story(feed: Feed) -> None:
    feed.community()
    feed.group()
    feed.join("mbr_op", "op", at("2026-02-01T01:00:00"), role="admin")
    for i in range(9):
        feed.join(f"mbr_{i}", "ab"[i] if i < 2 else f"m{i}", at("2026-02-01T01:00:00"))
    baseline = [date(2026, 2, 17) + timedelta(days=i) for i in range(28)]
    feed(*[message("a", _day(d)) for d in baseline])
    feed(*[message("a", _day(date(2026, 3, 24) + timedelta(days=i))) for i in range(7)])
    feed(message("b", _day(date(2026, 3, 20))))
    feed(*[message("op", _day(date(2026, 3, d))) for d in (17, 18, 19)])


def test_the_health_score_traces_back_to_counts(feed: Feed, engine: Engine) -> None:
    _health_story(feed)
    with Session(engine) as session:
        community = session.get(Community, "cmt_1")
        assert community is not None
        scored = health(session, scope=Scope(community), today=date(2026, 3, 31))
    parts = {c.name: c for c in scored.components}
    assert (scored.day, scored.score, scored.band) == (date(2026, 3, 30), 46, "watch")
    assert parts["activity_trend"].value == 0.5714
    assert parts["activity_trend"].counts == {
        "member_messages_14d": 8,
        "member_messages_previous_28d": 28,
    }
    assert parts["activity_trend"].reason == (
        "members' messages per day are 43% down on the 4 weeks before"
    )
    assert (parts["speaking_rate"].value, parts["speaking_rate"].score) == (0.2, 0.6061)
    assert parts["speaking_rate"].reason == "2 of 10 members spoke in the last 14 days (20%)"
    assert (parts["retention"].value, parts["retention"].contribution) == (0.0, 0.0)
    assert (parts["growth"].score, parts["growth"].contribution) == (0.5, 8.33)
    assert parts["content_response"].score is None
    assert parts["operator_only_days"].reason == "only operators spoke in 3 of the last 14 days"
    assert parts["operator_only_days"].contribution == 8.73
    assert round(sum(c.contribution for c in scored.components)) == 46


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
    feed(*[message("a", _day(date(2026, 3, d))) for d in range(1, 21)])
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
