"""Batch consumption (`BatchConsumer.run_batches`), for handlers that can fold many events
at once: a batch handler is
`BatchHandler = Callable[[Session, Sequence[CloudEvent]], None]`, registered per event type
(`ServiceSpec.batch_handlers`). A polled batch, bounded by count and bytes, is one
transaction: its event ids go into the processed-event table in one statement
(`INSERT … ON CONFLICT DO NOTHING RETURNING event_id`), duplicates (redelivered, or twice in
the batch) are dropped before any handler sees them, and each run of consecutive events of one
type goes to its batch handler in partition order (types without one go to their per-event
handler, in the same transaction). Offsets are committed once per batch and partition, after
the database commit. A batch that fails with its dependencies healthy is split in halves, in
order, until the event at fault is alone; that event is then handled exactly as the per-event
path handles it (its per-event handler, retries, the dead-letter topic), and the rest fold.
An outage pauses the batch path just as it pauses the per-event path.
"""

import collections
import gc
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from prometheus_client import Counter, Histogram
from sqlalchemy import Engine
from sqlmodel import Session

from services.common import observability as obs
from services.common.cloudevents import CloudEvent, MalformedEvent
from services.common.consumer import (
    _PERMANENT,
    DependencyDown,
    EventConsumer,
    EventSource,
    Handler,
    processed_event,
)
from services.common.kafka import BROKER_ERRORS, IncomingRecord

log = logging.getLogger(__name__)

BATCH_EVENTS = Histogram(
    "qunyun_consumer_batch_events",
    "Events in one batch transaction (after splitting, before dropping duplicates).",
    ["consumer"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 200, 500, 1000, 2000),
)
BATCH_SECONDS = Histogram(
    "qunyun_consumer_batch_seconds",
    "Time one batch transaction took, handlers and commit included.",
    ["consumer"],
)
BATCH_SPLITS = Counter(
    "qunyun_consumer_batch_splits_total",
    "Batches split in halves because they failed with the database and broker healthy.",
    ["consumer"],
)

BatchHandler = Callable[[Session, Sequence[CloudEvent]], None]

# The batch's ids as one JSON parameter: one statement text whatever the batch's size, so
# nothing is compiled per batch (a multi-row VALUES is compiled anew for every row count).
# It answers one row, the ids claimed before as a JSON array (null when none, as usual): not a
# row per claimed id, which the driver and SQLAlchemy would read and build one by one.
_CLAIM = sa.text(
    "WITH ids AS (SELECT value AS id FROM json_array_elements_text(CAST(:ids AS json))), "
    f"claimed AS (INSERT INTO {processed_event.name} (consumer, event_id) "
    "SELECT :consumer, id FROM ids ON CONFLICT DO NOTHING RETURNING event_id) "
    "SELECT CAST(json_agg(id) AS text) FROM ids WHERE id NOT IN (SELECT event_id FROM claimed)"
)


class BatchConsumer(EventConsumer):
    """An `EventConsumer` that also folds runs of events with batch handlers."""

    def __init__(
        self,
        engine: Engine,
        *,
        batch_handlers: Mapping[str, BatchHandler],
        batch_max_events: int = 500,
        batch_max_bytes: int = 4 * 1024 * 1024,
        handlers: Mapping[str, Handler],
        **kwargs: Any,
    ):
        # An event type with only a batch handler is handled alone as a batch of one.
        super().__init__(
            engine,
            handlers={**{t: _one_by_one(h) for t, h in batch_handlers.items()}, **handlers},
            **kwargs,
        )
        self._batch_handlers = dict(batch_handlers)
        self._batch_max_events = batch_max_events
        self._batch_max_bytes = batch_max_bytes

    def run_batches(
        self, source: EventSource, stop: threading.Event, *, poll_seconds: float = 0.5
    ) -> None:
        """Consume until `stop` is set, one transaction and one offset commit per batch."""
        if self.status.paused_since is None:
            self.status.working()
        try:
            while not stop.is_set():
                records = source.poll(poll_seconds)
                for start, batch in self._batches(records):
                    try:
                        self.handle_batch(batch, stop)
                    except DependencyDown as exc:
                        self._rewind(source, records[start:])
                        self._ride_out(source, stop, str(exc))
                        break
                    except Exception:
                        self._rewind(source, records[start:])
                        if not stop.is_set():
                            log.exception("batch not handled; it will be redelivered")
                            stop.wait(self._backoff_max)
                        break
                    try:
                        for last in _last_of_each_partition(batch):
                            source.commit(last)
                    except BROKER_ERRORS as exc:
                        # The work is committed in the database; its redelivery is a duplicate.
                        self._rewind(source, records[start:])
                        self._ride_out(source, stop, f"broker unreachable: {exc}", probe=False)
                        break
                    self._resumed()
                for (topic, partition), lag in source.lag().items():
                    obs.CONSUMER_LAG.labels(topic, str(partition)).set(lag)
        finally:
            source.close()

    def handle_batch(
        self, records: Sequence[IncomingRecord], stop: threading.Event | None = None
    ) -> None:
        """Fold `records` (in partition order). Raises `DependencyDown` while the database or
        broker is unreachable, anything else only if the records must be redelivered."""
        # Every object made for the batch lives until the batch is done and is then freed by
        # reference counting; the cyclic collector, which runs every 700 allocations, only
        # walked them again and again meanwhile: 15 µs of metrics' 39 µs of CPU per chat
        # message. It is off for the batch and on again (as it was) after it, and on around
        # the per-event path, whose retries may wait seconds.
        collecting = gc.isenabled()
        gc.disable()
        try:
            events: list[tuple[IncomingRecord, CloudEvent]] = []
            ignored: collections.Counter[tuple[str, str, str]] = collections.Counter()
            from_kafka, handled = CloudEvent.from_kafka, self._handlers
            for record in records:
                try:
                    event = from_kafka(record.headers, record.value)
                except MalformedEvent as exc:
                    self._dead_letter(record, exc, attempts=0)
                    self._count(record, "unknown", "dead_lettered")
                    continue
                if event.type not in handled:
                    ignored[(record.topic, event.type, "ignored")] += 1
                    continue
                events.append((record, event))
            _count_all(ignored)
            self._fold(events, stop, collecting=collecting)
        finally:
            if collecting:
                gc.enable()

    def _fold(
        self,
        events: list[tuple[IncomingRecord, CloudEvent]],
        stop: threading.Event | None,
        *,
        collecting: bool,
    ) -> None:
        """One transaction for `events`; if it fails with the dependencies healthy, each half
        on its own, in order, down to the one event at fault (handled as the per-event path
        handles it: retried, then dead-lettered)."""
        if not events:
            return
        if len(events) == 1:
            if collecting:
                gc.enable()
            try:
                self.handle(events[0][0], stop)
            finally:
                if collecting:
                    gc.disable()
            return
        started = time.perf_counter()
        try:
            outcomes = self._apply_batch(events)
        except Exception as exc:
            if not isinstance(exc, _PERMANENT) and (outage := self._outage(exc)) is not None:
                raise DependencyDown(outage) from exc
            BATCH_SPLITS.labels(self._name).inc()
            log.warning(
                "batch failed; splitting it to find the event at fault",
                extra={"events": len(events), "error": repr(exc)[:500]},
            )
            half = len(events) // 2
            self._fold(events[:half], stop, collecting=collecting)
            self._fold(events[half:], stop, collecting=collecting)
            return
        BATCH_EVENTS.labels(self._name).observe(len(events))
        BATCH_SECONDS.labels(self._name).observe(time.perf_counter() - started)
        _count_all(
            collections.Counter(
                (record.topic, event.type, outcome)
                for (record, event), outcome in zip(events, outcomes, strict=True)
            )
        )

    def _apply_batch(self, events: list[tuple[IncomingRecord, CloudEvent]]) -> list[str]:
        """The batch's transaction; each event's outcome, in order."""
        with Session(self._engine) as session, session.begin():
            before = session.execute(
                _CLAIM,
                {"consumer": self._name, "ids": orjson.dumps([e.id for _, e in events]).decode()},
            ).scalar_one()
            repeated = set(orjson.loads(before)) if before else set()
            outcomes: list[str] = []
            todo: list[CloudEvent] = []
            for _, event in events:
                if event.id in repeated:
                    outcomes.append("duplicate")
                else:
                    repeated.add(event.id)  # a second copy inside the batch is a duplicate
                    todo.append(event)
                    outcomes.append("processed")
            for event_type, run in itertools.groupby(todo, key=lambda e: e.type):
                batch_handler = self._batch_handlers.get(event_type)
                if batch_handler is not None:
                    batch_handler(session, list(run))
                    continue
                for event in run:
                    token = obs.event_id_var.set(event.id)
                    try:
                        self._handlers[event_type](session, event)
                    finally:
                        obs.event_id_var.reset(token)
        return outcomes

    def _batches(self, records: list[IncomingRecord]) -> list[tuple[int, list[IncomingRecord]]]:
        """The poll cut into batches of at most `batch_max_events` records and (unless one
        record alone is larger) `batch_max_bytes`, each with the index of its first record."""
        cuts: list[tuple[int, list[IncomingRecord]]] = []
        batch: list[IncomingRecord] = []
        size, start = 0, 0
        for n, record in enumerate(records):
            length = len(record.value or b"")
            if batch and (
                len(batch) >= self._batch_max_events or size + length > self._batch_max_bytes
            ):
                cuts.append((start, batch))
                batch, size, start = [], 0, n
            batch.append(record)
            size += length
        if batch:
            cuts.append((start, batch))
        return cuts


def _count_all(counts: collections.Counter[tuple[str, str, str]]) -> None:
    """`EventConsumer._count` for many records, by (topic, type, outcome): once per label set,
    not per record (a labelled counter's lookup is ~2 µs, a twentieth of metrics' whole fold
    of a chat message)."""
    for (topic, event_type, outcome), n in counts.items():
        obs.CONSUMER_HANDLED.labels(topic, event_type, outcome).inc(n)


def _one_by_one(batch_handler: BatchHandler) -> Handler:
    """A batch handler as a per-event handler: a batch of one."""

    def handle(session: Session, event: CloudEvent) -> None:
        batch_handler(session, [event])

    return handle


def _last_of_each_partition(batch: Sequence[IncomingRecord]) -> list[IncomingRecord]:
    last: dict[tuple[str, int], IncomingRecord] = {}
    for record in batch:
        last[(record.topic, record.partition)] = record
    return list(last.values())
