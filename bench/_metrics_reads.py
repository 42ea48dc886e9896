"""The two reads `bench.metrics_fold` compares: the raw kafka-python consumer doing nothing
with the records (the issue's baseline), and metrics' own consumer folding them as the
service does (`BatchConsumer.run_batches` with metrics' handlers: CloudEvent headers, the
kit's claim of the batch's ids, the fold, one transaction and one offset commit a batch, the
transaction of a batch in a worker thread while the next is polled), with the CPU Postgres
spent on it and the statements a batch took."""

import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from kafka import KafkaConsumer
from prometheus_client import REGISTRY
from sqlalchemy import Engine

from bench._process_cpu import tree_cpu_seconds
from services.common.batches import BatchConsumer
from services.common.contracts import ChatMessagePosted
from services.common.kafka import CONSUMER_FETCH, IncomingRecord, KafkaEventSource, OutgoingRecord
from services.metrics.app import SPEC


def platform_source(servers: str, topic: str, group: str, batch: int) -> KafkaEventSource:
    """The platform's consumer (its fetch, session and reconnect settings)."""
    return KafkaEventSource(
        servers, group_id=group, topics=[topic], client_id=group, max_poll_records=batch
    )


def metrics_consumer(engine: Engine, batch: int) -> "_TimedConsumer":
    """Metrics' consumer as the service builds it, with its handlers and batch bound."""
    return _TimedConsumer(
        engine,
        name=SPEC.name,
        handlers=SPEC.handlers,
        batch_handlers=SPEC.batch_handlers,
        batch_max_events=batch,
        dead_letters=_NoDeadLetters(),
    )


def raw_read(servers: str, topic: str, count: int, batch: int) -> tuple[float, float]:
    """Baseline: kafka-python, with the settings the platform's consumer uses, reading `count`
    records and nothing else; (records/s from the first record, CPU-seconds per record)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=servers.split(","),
        group_id=f"raw-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch,
        **CONSUMER_FETCH,
    )
    seen, started, cpu = 0, 0.0, 0.0
    while seen < count:
        for records in consumer.poll(timeout_ms=500).values():
            if not seen:
                started, cpu = time.perf_counter(), time.process_time()
            seen += len(records)
    rate = seen / (time.perf_counter() - started)
    cpu = (time.process_time() - cpu) / seen
    consumer.close()
    return rate, cpu


@dataclass
class FoldFigures:
    rate: float  # records/s end to end, from the first record polled
    cpu: float  # CPU-seconds of this process per record, end to end
    fold_cpu: float  # of which after the poll (headers, claim, fold), per record
    duplicates: int  # records the kit's claim found handled before
    postgres_cpu: float  # CPU-seconds of the Postgres server per record (all its processes)
    statements: float  # statements per batch transaction (the claim and the fold's)


def fold_read(
    engine: Engine, servers: str, topic: str, count: int, batch: int, *, postgres: int | None
) -> FoldFigures:
    """Read and fold `count` records through metrics' consumer loop, until all are handled;
    `postgres` is the pid of the server's postmaster, whose CPU (its backends') is counted."""
    stop = threading.Event()
    source = _Counted(platform_source(servers, topic, f"fold-{uuid.uuid4().hex[:6]}", batch))
    source.stop_after(count, stop)
    consumer = metrics_consumer(engine, batch)
    duplicates = _handled(topic, "duplicate")
    statements = [0]

    def counted(*_: object, **__: object) -> None:
        statements[0] += 1

    sa.event.listen(engine, "before_cursor_execute", counted)
    postgres_cpu = tree_cpu_seconds(postgres) if postgres else 0.0
    try:
        consumer.run_batches(source, stop, poll_seconds=0.5)
    finally:
        sa.event.remove(engine, "before_cursor_execute", counted)
    postgres_cpu = tree_cpu_seconds(postgres) - postgres_cpu if postgres else 0.0
    return FoldFigures(
        source.seen / source.wall,
        source.cpu / source.seen,
        consumer.cpu / source.seen,
        round(_handled(topic, "duplicate") - duplicates),
        postgres_cpu / source.seen,
        statements[0] / max(consumer.batches, 1),
    )


def _handled(topic: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "qunyun_consumer_events_total",
        {"topic": topic, "type": ChatMessagePosted.type, "outcome": outcome},
    )
    return value or 0.0


class _TimedConsumer(BatchConsumer):
    """`BatchConsumer` that adds up the CPU of the work after the poll: reading and counting
    each batch (this thread) and its transaction (the worker thread), each thread's own CPU
    time."""

    cpu = 0.0
    batches = 0

    def _parse(self, records: Sequence[IncomingRecord]) -> Any:
        started = time.thread_time()
        try:
            return super()._parse(records)
        finally:
            self.cpu += time.thread_time() - started

    def _prepare(self, parsed: Any) -> None:
        started = time.thread_time()
        try:
            super()._prepare(parsed)
        finally:
            self.cpu += time.thread_time() - started

    def _settle(self, parsed: Any, stop: threading.Event | None) -> None:
        self.batches += 1
        started = time.thread_time()
        try:
            super()._settle(parsed, stop)
        finally:
            self.cpu += time.thread_time() - started


class _Counted:
    """The platform's source, timed from the first record polled, that stops the consumer
    loop once it has handed out `count` records and they were handled."""

    def __init__(self, source: KafkaEventSource):
        self._source = source
        self.seen = 0
        self.wall = self.cpu = 0.0
        self._count = 0
        self._stop = threading.Event()

    def stop_after(self, count: int, stop: threading.Event) -> None:
        self._count, self._stop = count, stop

    def poll(self, timeout_seconds: float) -> list[IncomingRecord]:
        if self.seen >= self._count:  # the loop handled the last batch before polling again
            self.wall = time.perf_counter() - self.wall
            self.cpu = time.process_time() - self.cpu
            self._stop.set()
            return []
        records = self._source.poll(timeout_seconds)
        if records and not self.seen:
            self.wall, self.cpu = time.perf_counter(), time.process_time()
        self.seen += len(records)
        return records

    def commit(self, record: IncomingRecord) -> None:
        self._source.commit(record)

    def rewind(self, record: IncomingRecord) -> None:
        self._source.rewind(record)

    def idle(self, seconds: float) -> None:
        self._source.idle(seconds)

    def lag(self) -> dict[tuple[str, int], int]:
        return self._source.lag()

    def close(self) -> None:
        self._source.close()


class _NoDeadLetters:
    def publish(self, records: list[OutgoingRecord]) -> None:
        raise AssertionError("the bench's records are all well-formed; none is dead-lettered")
