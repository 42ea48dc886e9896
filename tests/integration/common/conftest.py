import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from kafka import KafkaConsumer
from sqlalchemy import Engine

from services.common.kafka import IncomingRecord, ensure_topics
from tests.conftest import migrated_engine

KIT_MIGRATIONS = Path(__file__).parent / "kit_migrations"

tally = sa.table("tally", sa.column("name"), sa.column("count"))


@pytest.fixture
def kit_engine(fresh_database_url: str) -> Iterator[Engine]:
    engine = migrated_engine(fresh_database_url, KIT_MIGRATIONS)
    yield engine
    engine.dispose()


@pytest.fixture
def topic(kafka_bootstrap: str, unique_topic: str) -> str:
    ensure_topics(kafka_bootstrap, [unique_topic], partitions=1)
    return unique_topic


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    expect: int,
    timeout: float = 20,
    counted: Callable[[IncomingRecord], bool] = lambda record: True,
) -> list[IncomingRecord]:
    """Every record on the topic from the start, waiting until at least `expect` of those
    `counted` arrived; fewer by the timeout fail the test (an `expect` above what the test
    makes was a 20 s wait in every run that no assertion noticed)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    records: list[IncomingRecord] = []

    def poll(timeout_ms: int) -> None:
        for batch in consumer.poll(timeout_ms=timeout_ms).values():
            records.extend(
                IncomingRecord(
                    r.topic, r.partition, r.offset, r.key, r.value, list(r.headers or [])
                )
                for r in batch
            )

    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and sum(map(counted, records)) < expect:
            poll(500)
        poll(1000)  # a little longer, to see duplicates that should not be there
    finally:
        consumer.close()
    arrived = sum(map(counted, records))
    assert arrived >= expect, f"{arrived} of the {expect} records expected on {topic} arrived"
    return records


def wait_for(
    condition: Callable[[], object], *, timeout: float = 20, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
