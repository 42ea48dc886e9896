"""Alerts on a hand-computed story: each opens once, and resolves once, only after the group
has stayed clear of it (no flapping)."""

from datetime import date, timedelta

import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy import Engine
from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.contracts import PublicationExpired, PublicationFailed, PublicationPublishedV2
from services.common.periodic import run_job_once
from services.metrics.app import JOBS
from tests.integration.metrics.conftest import Feed, at, event, message
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


def _unsaid(engine: Engine) -> list[tuple[str, str | None]]:
    with Session(engine) as session:
        rows = session.execute(
            sa.text("SELECT headers, convert_from(payload, 'UTF8')::jsonb FROM outbox ORDER BY seq")
        ).all()
    return [
        (dict(headers)["ce_type"].split(".")[-2], data["group_id"])
        for headers, data in rows
        if data["kind"] == "publication_failures"
    ]


def _open_gauge() -> float:
    value = REGISTRY.get_sample_value(
        "qunyun_metrics_alerts_open", {"kind": "publication_failures", "purpose": "interest"}
    )
    return value or 0.0


def test_publications_not_said_open_one_alert_per_group_and_community_and_resolve_once(
    feed: Feed, engine: Engine
) -> None:
    feed.community()
    feed.group()
    now = at("2026-03-31T04:00:00")

    def failed(publication_id: str, group_id: str | None, hours_ago: int) -> CloudEvent:
        return event(
            PublicationFailed(
                publication_id=publication_id,
                schedule_id="sch_1",
                community_id="cmt_1",
                group_id=group_id,
                member_id=None if group_id else "mbr_1",
                error="bot was removed from the group",
                failed_at=now - timedelta(hours=hours_ago),
            )
        )

    expired = event(
        PublicationExpired(
            publication_id="pub_2",
            schedule_id="sch_1",
            community_id="cmt_1",
            group_id="grp_1",
            member_id=None,
            dispatched_at=now - timedelta(hours=2),
            expired_at=now - timedelta(hours=1),
        )
    )
    feed(failed("pub_1", "grp_1", 3), expired, failed("pub_3", None, 2), expired)
    alerts_job = next(job for job in JOBS if job.name == "metrics-alerts")
    run_job_once(engine, alerts_job, now)
    run_job_once(engine, alerts_job, now + timedelta(minutes=10))  # still true: nothing new
    assert sorted(_unsaid(engine), key=str) == [("alert_opened", "grp_1"), ("alert_opened", None)]
    assert _open_gauge() == 2
    with Session(engine) as session:
        reasons = session.execute(
            sa.text(
                "SELECT reason FROM alert WHERE kind = 'publication_failures' ORDER BY group_id"
            )
        ).scalars()
        assert list(reasons) == [
            "3 publications not said in the last 24 hours "
            "(2 failed, 1 with no result from the bot in time)",
            "2 publications not said in the last 24 hours "
            "(1 failed, 1 with no result from the bot in time)",
        ]

    # The bot's late answer: pub_2 was said after all. grp_1 is down to one, under the 2.
    feed(
        event(
            PublicationPublishedV2(
                publication_id="pub_2",
                schedule_id="sch_1",
                community_id="cmt_1",
                content_item_id="cnt_1",
                group_id="grp_1",
                member_id=None,
                platform="wechat",
                external_id="wx_grp_1",
                external_message_id="m_2",
                published_at=now,
                content_kind="article",
                value_dimension=None,
            )
        )
    )
    run_job_once(engine, alerts_job, now + timedelta(minutes=20))
    assert len(_unsaid(engine)) == 2  # over once is not over
    run_job_once(engine, alerts_job, now + timedelta(minutes=30))
    run_job_once(engine, alerts_job, now + timedelta(minutes=40))
    assert _unsaid(engine)[2:] == [("alert_resolved", "grp_1")]
    assert _open_gauge() == 1

    # A day later the community's two have left the window.
    later = now + timedelta(hours=24)
    run_job_once(engine, alerts_job, later)
    run_job_once(engine, alerts_job, later + timedelta(minutes=10))
    run_job_once(engine, alerts_job, later + timedelta(minutes=20))
    assert _unsaid(engine)[3:] == [("alert_resolved", None)]
    assert _open_gauge() == 0
