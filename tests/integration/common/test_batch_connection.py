"""The batch consumer's held connection on the real Postgres: batches that follow each other
share one connection (no pool ping each), and a connection the database dropped between two
batches costs neither a split nor a failure: the batch runs again on a fresh one."""

from collections.abc import Sequence

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy import Engine
from sqlmodel import Session

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


def _splits() -> float:
    labels = {"consumer": "held"}
    return REGISTRY.get_sample_value("qunyun_consumer_batch_splits_total", labels) or 0.0


def test_a_connection_dropped_between_batches_is_replaced_without_a_split(
    kit_engine: Engine,
) -> None:
    consumer = BatchConsumer(
        kit_engine,
        name="held",
        handlers={},
        batch_handlers={EVENT_TYPE: _fold},
        dead_letters=None,  # type: ignore[arg-type]  # nothing here is dead-lettered
    )
    splits = _splits()
    consumer._fold(_events("a", "b"), None)
    held = consumer._held
    assert held is not None
    pid = held.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
    consumer._fold(_events("c", "d"), None)
    assert consumer._held is held  # the next batch, on the same connection

    with kit_engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    consumer._fold(_events("e", "f"), None)
    assert consumer._held is not None and consumer._held is not held
    assert _tallies(kit_engine) == {n: 1 for n in "abcdef"}
    assert _splits() == splits
    consumer._let_go()
