"""Faults under a steady stream: every sent item is accepted and recorded exactly once, nothing
is dead-lettered, a database outage answers 503 (never 500), and processing resumes within
10 s of the process or dependency coming back.

Each test runs traffic for a few seconds, injects its fault, keeps the traffic going, then
drains and counts: sent, accepted, recorded, duplicates (recorded twice), dead letters.
"""

import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest

from services.common.contracts import ALL_TOPICS, dead_letter_topic, topics
from services.common.kafka import read_since
from tests.faults.conftest import Platform
from tests.faults.traffic import Sampler, Traffic

pytestmark = pytest.mark.faults

WARM_SECONDS = 4
AFTER_SECONDS = 4
# How long clients may take to get every item accepted once sending stops.
DRAIN_SECONDS = 90
# A drain fails only when nothing more is recorded for this long: a backlog on a loaded
# machine takes long to work through, but keeps moving.
STALL_SECONDS = 30
# The bound, from the process being ready again or the dependency back to the first
# record processed. Its parts: a consumer's session (6 s) when a crashed member must be timed
# out, clients' reconnect (<= 1 s), the relay's retry (<= 1 s), a paused consumer's database
# probe (<= 1 s), and a restarted broker's own warm-up. Measured 0.2-5.2 s after a crash,
# 0.0-2.3 s after Postgres and 5.2-7.6 s after the broker at load averages of 14-53 on 2 cores
# (README, "Fault drills"): on CI's quiet machine it holds with room. The restarts themselves
# (15-55 s under that load) are not in it.
RESUME_BOUND_SECONDS = 10


def _messages(platform: Platform) -> tuple[int, int]:
    """Messages recorded, and the members' message counters (a message counted twice shows
    there), read in one snapshot so that processing in between cannot skew them."""
    with psycopg.connect(platform.db("members"), connect_timeout=2) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM activity_message WHERE community_id = %(c)s),"
            " (SELECT coalesce(sum(message_count), 0) FROM member WHERE community_id = %(c)s)",
            {"c": platform.chat_community},
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _messages_recorded(platform: Platform) -> int:
    return _messages(platform)[0]


def _joins_recorded(platform: Platform) -> int:
    return platform.scalar(
        "members",
        "SELECT count(*) FROM member WHERE community_id = %(c)s",
        c=platform.joins_community,
    )


def _joins_counted_by_metrics(platform: Platform) -> int:
    return platform.scalar(
        "metrics",
        "SELECT members_total FROM community WHERE community_id = %(c)s",
        c=platform.joins_community,
    )


def _relayed(platform: Platform) -> int:
    """Rows the gateway's relay has published: where a broker outage's pause begins."""
    return platform.scalar("gateway", "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL")


def _dead_letters(platform: Platform, since: datetime) -> int:
    since_ms = int(since.timestamp() * 1000)
    return sum(
        1
        for topic in ALL_TOPICS
        for _ in read_since(
            platform.kafka.bootstrap_servers, dead_letter_topic(topic), since_ms=since_ms
        )
    )


def _published(platform: Platform, since: datetime) -> dict[str, int]:
    """Where a missing message would be: still in the gateway's outbox, or on the topic."""
    ids = [
        dict(r.headers).get("ce_id")
        for r in read_since(
            platform.kafka.bootstrap_servers,
            topics.INGEST_MESSAGES,
            since_ms=int(since.timestamp() * 1000),
        )
    ]
    return {
        "gateway outbox unsent": platform.scalar(
            "gateway", "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
        ),
        "ingest records": len(ids),
        "ingest events": len(set(ids)),
    }


def _drill(
    platform: Platform, name: str, fault: Callable[[], None], *, watch: str = "messages"
) -> dict:  # type: ignore[type-arg]
    """Traffic, the fault, more traffic, drain; the counts and pauses. `fault` returns once
    what it broke is back."""
    since = datetime.now(UTC)
    base_messages, base_counter = _messages(platform)
    base = {
        "messages": base_messages,
        "counter": base_counter,
        "joins": _joins_recorded(platform),
        "metrics": _joins_counted_by_metrics(platform),
    }
    watched = {
        "messages": lambda: _messages_recorded(platform),
        "joins": lambda: _joins_counted_by_metrics(platform),
    }[watch]
    sampler = Sampler(watched)
    relay = Sampler(lambda: _relayed(platform))
    traffic = Traffic(
        gateway=platform.stack.url("gateway"),
        api_key=platform.stack.admin_api_key,
        integration=platform.integration,
        chat_groups=platform.chat_groups,
        joins_community=platform.joins_community,
    )
    sampler.start()
    relay.start()
    traffic.start()
    time.sleep(WARM_SECONDS)
    fault_at = time.monotonic()
    fault()
    back_at = time.monotonic()
    time.sleep(AFTER_SECONDS)
    traffic.finish(timeout=DRAIN_SECONDS)

    def counts() -> dict[str, int]:
        messages, counter = _messages(platform)
        return {
            "messages": messages - base["messages"],
            "counter": counter - base["counter"],
            "joins": _joins_recorded(platform) - base["joins"],
            "metrics": _joins_counted_by_metrics(platform) - base["metrics"],
        }

    # The backlog of a long outage takes a while on a busy machine: wait as long as the
    # consumers make progress, and fail only when they stop short of the count.
    last, stalled_since, started = None, time.monotonic(), time.monotonic()
    while time.monotonic() - stalled_since < STALL_SECONDS and time.monotonic() - started < 600:
        now = counts()
        if (
            now["messages"] >= traffic.messages.accepted
            and now["joins"] >= traffic.joins.accepted
            and now["metrics"] >= traffic.joins.accepted
        ):
            break
        if now != last:
            last, stalled_since = now, time.monotonic()
        time.sleep(0.5)
    drained_at = time.monotonic()
    time.sleep(1)  # a moment more, for anything recorded twice to show
    sampler.stop()
    relay.stop()
    final = counts()
    resumed = sampler.first_growth_after(back_at)
    relayed = relay.first_growth_after(back_at)
    report = {
        "fault": name,
        "sent": {"messages": traffic.messages.sent, "joins": traffic.joins.sent},
        "accepted": {"messages": traffic.messages.accepted, "joins": traffic.joins.accepted},
        "recorded": {
            "messages": final["messages"],
            "joins (members)": final["joins"],
            "joins (metrics)": final["metrics"],
        },
        "duplicates": {
            "messages": final["counter"] - final["messages"],
            "joins (metrics)": final["metrics"] - final["joins"],
        },
        "retries answered as already done": {
            "messages": traffic.messages.duplicate_answers,
            "joins": traffic.joins.duplicate_answers,
        },
        "dead letters": _dead_letters(platform, since),
        "published": _published(platform, since),
        "fault lasted seconds": round(back_at - fault_at, 1),
        f"longest pause in recorded {watch}, seconds": round(
            sampler.longest_pause(fault_at - 1, drained_at), 1
        ),
        "processing resumed seconds after the fault ended": (
            None if resumed is None else round(max(0.0, resumed - back_at), 1)
        ),
        "gateway relay published again seconds after the fault ended": (
            None if relayed is None else round(max(0.0, relayed - back_at), 1)
        ),
        "load average": round(os.getloadavg()[0], 1),
        "answers": _statuses(traffic, fault_at, back_at),
        "unexpected answers": [(a.stream, a.status) for a in traffic.unexpected],
    }
    platform.reports.append(report)
    print(f"\n{report}")
    return report


def _statuses(traffic: Traffic, start: float, end: float) -> dict[str, int]:
    tally: dict[str, int] = {}
    for answer in traffic.answers_between(start, end):
        label = str(answer.status) if answer.status is not None else "no answer"
        tally[label] = tally.get(label, 0) + 1
    return tally


def _assert_exact(report: dict) -> None:  # type: ignore[type-arg]
    sent, accepted = report["sent"], report["accepted"]
    assert accepted == sent, f"not every sent item was accepted: {report}"
    assert report["recorded"] == {
        "messages": sent["messages"],
        "joins (members)": sent["joins"],
        "joins (metrics)": sent["joins"],
    }, report
    assert report["duplicates"] == {"messages": 0, "joins (metrics)": 0}, report
    assert report["dead letters"] == 0, report
    assert report["unexpected answers"] == [], report


def _assert_resumed(report: dict, bound: float = RESUME_BOUND_SECONDS) -> None:  # type: ignore[type-arg]
    resumed = report["processing resumed seconds after the fault ended"]
    assert resumed is not None and resumed <= bound, report


@pytest.mark.parametrize("service", ["members", "metrics", "gateway", "content", "events"])
def test_kill_9_of_a_service_mid_stream(platform: Platform, service: str) -> None:
    def crash_and_restart() -> None:
        platform.stack.kill(service)
        platform.stack.start(service)

    watch = "joins" if service == "metrics" else "messages"
    report = _drill(platform, f"kill -9 {service}", crash_and_restart, watch=watch)
    _assert_exact(report)
    if service in ("members", "metrics", "gateway"):
        _assert_resumed(report)


def test_broker_restart(platform: Platform) -> None:
    report = _drill(platform, "broker restart", lambda: platform.restart_kafka(down_seconds=5))
    _assert_exact(report)
    _assert_resumed(report)


@pytest.mark.parametrize(
    "how", [signal.SIGINT, signal.SIGKILL], ids=["clean-restart", "crash-restart"]
)
def test_postgres_outage_answers_503_and_loses_nothing(
    platform: Platform, how: signal.Signals
) -> None:
    report = _drill(
        platform,
        f"postgres {'clean' if how == signal.SIGINT else 'crash'} restart",
        lambda: platform.restart_postgres(how, down_seconds=5),
    )
    _assert_exact(report)
    during = report["answers"]
    assert set(during) <= {"200", "201", "202", "503"}, f"during the outage: {during}"
    assert during.get("503", 0) > 0, "the outage was not seen at all"
    _assert_resumed(report)
