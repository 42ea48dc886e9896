"""The consumer's batch mode against the real broker and database: one transaction per batch,
duplicates dropped before the handler, a poison event found by splitting and dead-lettered
alone, offsets committed once per batch."""

import threading
import uuid
from collections.abc import Sequence

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine
from sqlmodel import Session

from services.common.batches import BatchConsumer
from services.common.cloudevents import CloudEvent
from services.common.contracts import dead_letter_topic
from services.common.kafka import KafkaEventSource, KafkaPublisher, OutgoingRecord
from tests.integration.common.conftest import read_topic, wait_for
from tests.integration.common.test_consumer import (
    EVENT_TYPE,
    _count,
    _event,
    _send,
    _tallies,
    publisher,  # noqa: F401 (a fixture)
)

pytestmark = pytest.mark.integration


def _outcomes(topic: str, outcome: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "qunyun_consumer_events_total", {"topic": topic, "type": EVENT_TYPE, "outcome": outcome}
        )
        or 0.0
    )


class _Batches:
    """A `BatchConsumer` in a thread, recording every batch its handler gets."""

    def __init__(self, engine: Engine, bootstrap: str, topic: str, group: str | None = None):
        self.batches: list[list[str]] = []
        self.consumer = BatchConsumer(
            engine,
            name="test",
            handlers={},
            batch_handlers={EVENT_TYPE: self._fold},
            dead_letters=KafkaPublisher(bootstrap, client_id="dlq"),
            max_attempts=2,
            backoff_seconds=0.01,
            backoff_max_seconds=0.05,
            batch_max_events=50,
        )
        self.source = KafkaEventSource(
            bootstrap,
            group_id=group or f"g-{uuid.uuid4().hex[:8]}",
            topics=[topic],
            client_id="test",
            max_poll_records=50,
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self.consumer.run_batches,
            args=(self.source, self.stop),
            kwargs={"poll_seconds": 0.2},
        )

    def _fold(self, session: Session, events: Sequence[CloudEvent]) -> None:
        self.batches.append([e.data["name"] for e in events])
        for event in events:
            _count(session, event)

    def __enter__(self) -> "_Batches":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(15)


def test_a_batch_is_folded_in_order_once_with_duplicates_dropped_before_the_handler(
    kit_engine: Engine,
    kafka_bootstrap: str,
    topic: str,
    publisher: KafkaPublisher,  # noqa: F811
) -> None:
    events = [_event(f"e{n}") for n in range(30)]
    _send(publisher, topic, *events, events[3], events[7])
    counted = {o: _outcomes(topic, o) for o in ("processed", "duplicate")}
    group = f"g-{uuid.uuid4().hex[:8]}"
    with _Batches(kit_engine, kafka_bootstrap, topic, group) as running:
        wait_for(lambda: len(_tallies(kit_engine)) == 30, what="thirty events")
        threading.Event().wait(1)
    assert _tallies(kit_engine) == {f"e{n}": 1 for n in range(30)}
    folded = [name for batch in running.batches for name in batch]
    assert folded == [f"e{n}" for n in range(30)]  # partition order, duplicates never seen
    assert len(running.batches) < 30  # many events to a transaction
    # Each record counted once by its outcome, though counted a batch at a time.
    assert _outcomes(topic, "processed") - counted["processed"] == 30
    assert _outcomes(topic, "duplicate") - counted["duplicate"] == 2

    # Across batches: the same events again are dropped, and the offsets were committed.
    _send(publisher, topic, events[0], _event("late"))
    with _Batches(kit_engine, kafka_bootstrap, topic, group) as again:
        wait_for(lambda: "late" in _tallies(kit_engine), what="the late event")
        threading.Event().wait(1)
    assert [n for b in again.batches for n in b] == ["late"]
    assert _tallies(kit_engine)["e0"] == 1


def test_a_poison_event_mid_batch_is_dead_lettered_alone_and_the_rest_are_folded(
    kit_engine: Engine,
    kafka_bootstrap: str,
    topic: str,
    publisher: KafkaPublisher,  # noqa: F811
) -> None:
    poison = _event("poison", poison=True)
    garbage = OutgoingRecord(topic, "cmt_1", b"garbage", [])
    before = [_event(f"b{n}") for n in range(10)]
    after = [_event(f"a{n}") for n in range(10)]
    _send(publisher, topic, *before, poison, garbage, *after)
    with _Batches(kit_engine, kafka_bootstrap, topic):
        wait_for(lambda: len(_tallies(kit_engine)) == 20, what="the twenty good events")
    assert _tallies(kit_engine) == {e.data["name"]: 1 for e in before + after}
    dead = read_topic(kafka_bootstrap, dead_letter_topic(topic), expect=2)
    assert sorted(r.value or b"" for r in dead) == sorted([poison.kafka_value(), b"garbage"])
    poisoned = next(dict(r.headers) for r in dead if r.value == poison.kafka_value())
    assert poisoned["qunyun_dlq_error"] == b"ValueError: this event always fails"
    assert poisoned["qunyun_dlq_attempts"] == b"2"  # retried like a single event, then dropped
