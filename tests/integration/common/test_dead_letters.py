"""Dead letters can be listed and replayed; a replay is as idempotent as a first delivery."""

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from services.common import dead_letters
from services.common.cloudevents import CloudEvent
from services.common.contracts import dead_letter_topic
from services.common.kafka import KafkaPublisher
from tests.integration.common.conftest import read_topic, wait_for
from tests.integration.common.test_consumer import _count, _event, _Running, _send, _tallies

pytestmark = pytest.mark.integration


@pytest.fixture
def publisher(kafka_bootstrap: str) -> Iterator[KafkaPublisher]:
    publisher = KafkaPublisher(kafka_bootstrap, client_id="test")
    yield publisher
    publisher.close()


def test_a_dead_letter_is_listed_and_replayed_once(
    kit_engine: Engine,
    kafka_bootstrap: str,
    topic: str,
    publisher: KafkaPublisher,
    capsys: pytest.CaptureFixture[str],
) -> None:
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    broken = True

    def until_fixed(session: Session, event: CloudEvent) -> None:
        if broken:
            raise ValueError("a bug in the handler")
        _count(session, event)

    unlucky = _event("unlucky")
    _send(publisher, topic, unlucky, _event("lucky", poison=False))
    group = "g-dead-letters"
    with _Running(kit_engine, kafka_bootstrap, topic, until_fixed, group):
        # Both fail with the database healthy: both are dead-lettered after their attempts.
        read_topic(kafka_bootstrap, dead_letter_topic(topic), expect=2)

    args = ["--topic", topic, "--since", since, "--bootstrap-servers", kafka_bootstrap]
    assert dead_letters.main(["list", *args, "--event-id", unlucky.id]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["event_id"], d["consumer"], d["attempts"]) for d in listed] == [
        (unlucky.id, "test", "3")
    ]
    assert listed[0]["error"] == "ValueError: a bug in the handler"
    assert listed[0]["origin"]["topic"] == topic

    broken = False  # the cause is fixed; now replay
    assert dead_letters.main(["replay", *args, "--event-id", unlucky.id]) == 0
    assert dead_letters.main(["replay", *args, "--event-id", unlucky.id]) == 0  # twice
    with _Running(kit_engine, kafka_bootstrap, topic, until_fixed, group):
        wait_for(lambda: _tallies(kit_engine) == {"unlucky": 1}, what="the replayed event")
        threading.Event().wait(1)  # time for the second replay to be (not) counted
    assert _tallies(kit_engine) == {"unlucky": 1}  # replayed twice, counted once


def test_since_takes_an_age_or_a_time() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert dead_letters.parse_since("90m", now) == now - timedelta(minutes=90)
    assert dead_letters.parse_since("2026-11-30T08:00:00Z") == datetime(2026, 11, 30, 8, tzinfo=UTC)
    assert dead_letters.parse_since("2026-11-30T16:00:00+08:00") == datetime(
        2026, 11, 30, 8, tzinfo=UTC
    )
