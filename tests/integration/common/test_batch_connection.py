"""The batch consumer on the real Postgres: batches that follow each other share one
connection (no pool ping each), a connection the database dropped between two batches costs
neither a split nor a failure (the batch runs again on a fresh one), a claim racing
another transaction for the same event waits for it and skips the event, and a fold in two
steps gets what it prepared only for exactly the events the claim left."""

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from services.common.batch_folds import BatchFold
from services.common.batches import BatchConsumer
from services.common.cloudevents import CloudEvent
from services.common.kafka import IncomingRecord
from tests.integration.common.test_consumer import EVENT_TYPE, _count, _event, _tallies

pytestmark = pytest.mark.integration


def _fold(session: Session, events: Sequence[CloudEvent]) -> None:
    for event in events:
        _count(session, event)


def _events(*names: str) -> list[tuple[IncomingRecord, CloudEvent]]:
    return [
        (IncomingRecord("t", 0, n, None, e.kafka_value(), e.kafka_headers()), e)
        for n, e in enumerate(_event(name) for name in names)
    ]


def _consumer(
    engine: Engine, name: str, handler: Callable[..., None] | BatchFold[Any]
) -> BatchConsumer:
    return BatchConsumer(
        engine,
        name=name,
        handlers={},
        batch_handlers={EVENT_TYPE: handler},
        dead_letters=None,  # nothing here is dead-lettered
    )


def _splits() -> float:
    labels = {"consumer": "held"}
    return REGISTRY.get_sample_value("qunyun_consumer_batch_splits_total", labels) or 0.0


def test_a_connection_dropped_between_batches_is_replaced_without_a_split(
    kit_engine: Engine,
) -> None:
    consumer = _consumer(kit_engine, "held", _fold)
    splits = _splits()
    consumer._fold(_events("a", "b"), None, {})
    held = consumer._held
    assert held is not None
    pid = held.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
    consumer._fold(_events("c", "d"), None, {})
    assert consumer._held is held  # the next batch, on the same connection

    with kit_engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    consumer._fold(_events("e", "f"), None, {})
    assert consumer._held is not None and consumer._held is not held
    assert _tallies(kit_engine) == {n: 1 for n in "abcdef"}
    assert _splits() == splits
    consumer._let_go()


def test_a_claim_racing_another_transaction_for_the_same_event_waits_and_skips_it(
    kit_engine: Engine,
) -> None:
    """Two members folding the same records at once (a rebalance moved the partition while a
    batch was in flight): the second claim of an event id waits on the unique key for the
    first transaction and, once that commits, finds the id taken and skips the event."""
    seen: list[str] = []

    def fold(session: Session, events: Sequence[CloudEvent]) -> None:
        seen.extend(e.data["name"] for e in events)
        _fold(session, events)

    consumer = _consumer(kit_engine, "racing", fold)
    events = _events("x", "y")
    with kit_engine.connect() as first:
        first.execute(
            sa.text("INSERT INTO processed_event (consumer, event_id) VALUES ('racing', :id)"),
            {"id": events[0][1].id},
        )
        second = threading.Thread(target=consumer._fold, args=(events, None, {}))
        second.start()
        second.join(1.0)
        assert second.is_alive()  # waiting on the first transaction's row
        first.commit()
    second.join(10)
    assert not second.is_alive()
    assert seen == ["y"]
    assert _tallies(kit_engine) == {"y": 1}
    consumer._let_go()


def test_a_fold_in_two_steps_gets_what_it_prepared_only_for_the_events_the_claim_left(
    kit_engine: Engine,
) -> None:
    applied: list[tuple[list[str], list[str] | None]] = []
    failing = threading.Event()

    def prepare(connection: Connection, events: Sequence[CloudEvent]) -> list[str]:
        if failing.is_set():
            raise sa.exc.OperationalError("SELECT 1", {}, Exception("the database went away"))
        if any(e.data.get("odd") for e in events):
            raise OverflowError("date value out of range")  # what prepare did not expect
        names = connection.execute(
            sa.text("SELECT value FROM json_array_elements_text(CAST(:names AS json))"),
            {"names": "[" + ",".join(f'"{e.data["name"]}"' for e in events) + "]"},
        ).scalars()
        return [f"prepared {name}" for name in names]

    def apply(session: Session, events: Sequence[CloudEvent], ready: list[str] | None) -> None:
        applied.append(([e.data["name"] for e in events], ready))
        _fold(session, events)

    consumer = _consumer(kit_engine, "two-steps", BatchFold(prepare=prepare, apply=apply))

    def fold(events: list[tuple[IncomingRecord, CloudEvent]]) -> None:
        consumer.handle_batch([record for record, _ in events])

    first = _events("a", "b")
    fold(first)
    fold([first[1], *_events("c")])  # b again: its run is not the one prepared
    fold(_events("d", "e"))  # right after a redelivery: nothing prepared
    fold(_events("f", "i"))
    failing.set()
    fold(_events("g", "h"))
    failing.clear()
    odd = [_event("j"), _event("k", odd=True)]
    consumer.handle_batch(
        [
            IncomingRecord("t", 0, n, None, e.kafka_value(), e.kafka_headers())
            for n, e in enumerate(odd)
        ]
    )
    assert applied == [
        (["a", "b"], ["prepared a", "prepared b"]),
        (["c"], None),
        (["d", "e"], None),
        (["f", "i"], ["prepared f", "prepared i"]),
        (["g", "h"], None),
        (["j", "k"], None),
    ]
    assert _tallies(kit_engine) == {n: 1 for n in "abcdefghijk"}
