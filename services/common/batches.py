"""Batch consumption (`BatchConsumer.run_batches`), for handlers that can fold many events
at once: a batch handler (`services.common.batch_folds`) is registered per event type
(`ServiceSpec.batch_handlers`). A polled batch, bounded by count and bytes, is one
transaction: its event ids go into the processed-event table in one statement
(`INSERT … ON CONFLICT DO NOTHING RETURNING event_id`), duplicates (redelivered, or twice in
the batch) are dropped before any handler sees them, and each run of consecutive events of one
type goes to its batch handler in partition order (types without one go to their per-event
handler, in the same transaction). Offsets are committed once per batch and partition, after
the database commit. The transaction of a batch runs in a worker thread while the next batch
is polled and parsed, one in flight at a time (see `run_batches`). A handler may come in two
steps (`BatchFold`): what it can work out before the transaction (reading the events, looking
up what they refer to, counting) is then done while the previous batch's transaction runs, and
only its writes wait for the database. A batch that fails with its dependencies healthy is
split in halves, in order, until the event at fault is alone; that event is then handled
exactly as the per-event path handles it (its per-event handler, retries, the dead-letter
topic), and the rest fold. An outage pauses the batch path just as it pauses the per-event
path.
"""

import collections
import itertools
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from prometheus_client import Counter, Histogram
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from services.common import collector
from services.common import observability as obs
from services.common.batch_folds import (
    BatchFold,
    BatchHandler,
    PreparedRuns,
    one_by_one,
    one_step,
    prepare_runs,
)
from services.common.batch_reading import ReadBatch, cut_poll, read_batch
from services.common.cloudevents import CloudEvent
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

# A connection idle longer than this is given back and the next batch takes one from the pool
# (pinged there): only batches that follow each other closely skip the ping.
_HOLD_SECONDS = 1.0

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
        batch_handlers: Mapping[str, BatchHandler | BatchFold[Any]],
        batch_max_events: int = 500,
        batch_max_bytes: int = 4 * 1024 * 1024,
        handlers: Mapping[str, Handler],
        **kwargs: Any,
    ):
        # An event type with only a batch handler is handled alone as a batch of one.
        super().__init__(
            engine,
            handlers={
                **{t: one_by_one(one_step(h)) for t, h in batch_handlers.items()},
                **handlers,
            },
            **kwargs,
        )
        self._folds = {t: h for t, h in batch_handlers.items() if isinstance(h, BatchFold)}
        self._batch_handlers = {
            t: h for t, h in batch_handlers.items() if not isinstance(h, BatchFold)
        }
        # Whether the last transaction's claim found events handled before: redeliveries come
        # in runs (a restart, a rebalance), and what is prepared for them is thrown away.
        self._redelivered = False
        self._batch_max_events = batch_max_events
        # The connection batches run on while they follow each other (see `_apply_batch`).
        self._held: Connection | None = None
        self._held_since = 0.0
        self._batch_max_bytes = batch_max_bytes

    def run_batches(
        self, source: EventSource, stop: threading.Event, *, poll_seconds: float = 0.5
    ) -> None:
        """Consume until `stop` is set, one transaction and one offset commit per batch.

        A batch's transaction runs in a worker thread while this thread polls and parses the
        next batch: folded one after the other, the consumer waited for Postgres with a core
        half idle (metrics folded 9,400 chat messages a second at 54 % of a core). psycopg lets
        go of the GIL while it waits for the server, so the two overlap. One transaction is in
        flight at a time: the next one starts only after the previous one has committed and
        this thread has committed its offsets, so offsets are committed in order, each after
        its batch's database commit, and two transactions of this consumer never lock the
        same rows. A batch that fails rewinds every record polled after it as well."""
        if self.status.paused_since is None:
            self.status.working()
        worker = ThreadPoolExecutor(1, thread_name_prefix=f"{self._name}-fold")
        inflight: _InFlight | None = None
        try:
            while not stop.is_set():
                if inflight is not None and inflight.future.done():
                    self._land(source, stop, inflight, [])
                    inflight = None
                # With a transaction in flight, take only what is fetched already: the
                # transaction's offsets are committed when this thread comes back.
                with collector.paused():
                    records = source.poll(0 if inflight is not None else poll_seconds)
                if not records and inflight is not None:
                    # Caught up: nothing to parse meanwhile. Wait for the transaction rather
                    # than poll again at once: empty polls in a loop took the GIL from the
                    # fold (members' chat fold 3,400 messages a CPU-second, 4,900 without;
                    # acceptance → moderation p99 580-750 ms, 60 without).
                    wait([inflight.future])
                    continue
                cuts = cut_poll(
                    records, max_events=self._batch_max_events, max_bytes=self._batch_max_bytes
                )
                for start, batch in cuts:
                    with collector.paused():
                        parsed = self._parse(batch)
                        self._prepare(parsed)
                    if inflight is not None:
                        landed = self._land(source, stop, inflight, records[start:])
                        inflight = None
                        if not landed:
                            break
                    inflight = _InFlight(worker.submit(self._settle, parsed, stop), batch)
                for (topic, partition), lag in source.lag().items():
                    obs.CONSUMER_LAG.labels(topic, str(partition)).set(lag)
        finally:
            try:
                if inflight is not None:  # stopping: the last batch's offsets, if it committed
                    self._land(source, stop, inflight, [])
            finally:
                worker.shutdown()
                self._let_go()
                source.close()

    def _land(
        self,
        source: EventSource,
        stop: threading.Event,
        inflight: "_InFlight",
        later: Sequence[IncomingRecord],
    ) -> bool:
        """Wait for the batch in flight and commit its offsets; if it failed (or the offsets
        were not taken), rewind it and the `later` records polled after it (the poll moved
        each partition past them all) and pause or back off as the per-event path does.
        Whether it landed."""
        unhandled = [*inflight.records, *later]
        try:
            inflight.future.result()
        except DependencyDown as exc:
            self._rewind(source, unhandled)
            self._ride_out(source, stop, str(exc))
            return False
        except Exception:
            self._rewind(source, unhandled)
            if not stop.is_set():
                log.exception("batch not handled; it will be redelivered")
                stop.wait(self._backoff_max)
            return False
        try:
            for last in _last_of_each_partition(inflight.records):
                source.commit(last)
        except BROKER_ERRORS as exc:
            # The work is committed in the database; its redelivery is a duplicate.
            self._rewind(source, unhandled)
            self._ride_out(source, stop, f"broker unreachable: {exc}", probe=False)
            return False
        self._resumed()
        return True

    def handle_batch(
        self, records: Sequence[IncomingRecord], stop: threading.Event | None = None
    ) -> None:
        """Fold `records` (in partition order). Raises `DependencyDown` while the database or
        broker is unreachable, anything else only if the records must be redelivered."""
        try:
            # `_settle` holds the collector off itself; a second hold here would outlast
            # `collector.running()` around a split's per-event retries.
            with collector.paused():
                parsed = self._parse(records)
                self._prepare(parsed)
            self._settle(parsed, stop)
        finally:
            self._let_go()  # the held connection is for the run loop's batches only

    def _parse(self, records: Sequence[IncomingRecord]) -> ReadBatch:
        """The batch read in this thread (`read_batch`) into the events of handled types."""
        return read_batch(records, self._handlers)

    def _prepare(self, parsed: ReadBatch) -> None:
        """The batch's runs prepared (`prepare_runs`), unless the consumer meets redelivered
        events."""
        if self._folds and not self._redelivered:
            parsed.prepared = prepare_runs(
                self._engine,
                self._folds,
                [event for _, event in parsed.events],
                consumer=self._name,
            )

    def _settle(self, parsed: ReadBatch, stop: threading.Event | None) -> None:
        """Dead-letter what is not a CloudEvent, count what no handler wants, fold the rest."""
        with collector.paused():
            for record, exc in parsed.malformed:
                self._dead_letter(record, exc, attempts=0)
                self._count(record, "unknown", "dead_lettered")
            _count_all(parsed.ignored)
            self._fold(parsed.events, stop, parsed.prepared)

    def _fold(
        self,
        events: list[tuple[IncomingRecord, CloudEvent]],
        stop: threading.Event | None,
        prepared: PreparedRuns,
    ) -> None:
        """One transaction for `events`; if it fails with the dependencies healthy, each half
        on its own, in order, down to the one event at fault (handled as the per-event path
        handles it: retried, then dead-lettered)."""
        if not events:
            return
        if len(events) == 1:
            with collector.running():  # its retries may wait seconds
                self.handle(events[0][0], stop)
            return
        started = time.perf_counter()
        try:
            outcomes = self._apply_batch(events, prepared)
        except Exception as exc:
            if not isinstance(exc, _PERMANENT) and (outage := self._outage(exc)) is not None:
                raise DependencyDown(outage) from exc
            BATCH_SPLITS.labels(self._name).inc()
            log.warning(
                "batch failed; splitting it to find the event at fault",
                extra={"events": len(events), "error": repr(exc)[:500]},
            )
            half = len(events) // 2
            self._fold(events[:half], stop, prepared)
            self._fold(events[half:], stop, prepared)
            return
        BATCH_EVENTS.labels(self._name).observe(len(events))
        BATCH_SECONDS.labels(self._name).observe(time.perf_counter() - started)
        _count_all(
            collections.Counter(
                (record.topic, event.type, outcome)
                for (record, event), outcome in zip(events, outcomes, strict=True)
            )
        )

    def _apply_batch(
        self, events: list[tuple[IncomingRecord, CloudEvent]], prepared: PreparedRuns
    ) -> list[str]:
        """The batch's transaction; each event's outcome, in order. On the connection of the
        previous batch if that one ended moments ago: a connection taken from the pool is
        pinged first, a round trip a batch that also waited for the GIL each time (9 % of a
        batch's wall time with the next batch parsed meanwhile). A held connection the
        database dropped (a restart) is let go, and the batch tried once on a fresh one."""
        fresh = self._held is None or time.monotonic() - self._held_since > _HOLD_SECONDS
        for _ in range(2):
            if fresh:
                self._let_go()
                self._held = self._engine.connect()
            try:
                outcomes = self._transaction(self._held, events, prepared)  # type: ignore[arg-type]
            except sa.exc.DBAPIError as exc:
                self._let_go()
                if fresh or not exc.connection_invalidated:
                    raise
                fresh = True
                continue
            except BaseException:
                self._let_go()
                raise
            self._held_since = time.monotonic()
            return outcomes
        raise AssertionError("unreachable")

    def _let_go(self) -> None:
        """Give the held connection back to the pool (which drops it if it is broken)."""
        if self._held is not None:
            held, self._held = self._held, None
            held.close()

    def _transaction(
        self,
        connection: Connection,
        events: list[tuple[IncomingRecord, CloudEvent]],
        prepared: PreparedRuns,
    ) -> list[str]:
        with Session(bind=connection) as session, session.begin():
            before = session.execute(
                _CLAIM,
                {"consumer": self._name, "ids": orjson.dumps([e.id for _, e in events]).decode()},
            ).scalar_one()
            repeated = set(orjson.loads(before)) if before else set()
            self._redelivered = bool(repeated)
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
                fold = self._folds.get(event_type)
                if fold is not None:
                    folded = list(run)
                    fold.apply(session, folded, prepared.get(tuple(e.id for e in folded)))
                    continue
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


@dataclass
class _InFlight:
    """A batch whose transaction runs in the worker thread."""

    future: Future[None]
    records: list[IncomingRecord]


def _count_all(counts: collections.Counter[tuple[str, str, str]]) -> None:
    """`EventConsumer._count` for many records, by (topic, type, outcome): once per label set,
    not per record (a labelled counter's lookup is ~2 µs, a twentieth of metrics' whole fold
    of a chat message)."""
    for (topic, event_type, outcome), n in counts.items():
        obs.CONSUMER_HANDLED.labels(topic, event_type, outcome).inc(n)


def _last_of_each_partition(batch: Sequence[IncomingRecord]) -> list[IncomingRecord]:
    last: dict[tuple[str, int], IncomingRecord] = {}
    for record in batch:
        last[(record.topic, record.partition)] = record
    return list(last.values())
