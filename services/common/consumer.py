"""Idempotent event handling: one database transaction per event holds the side effect and the
processed-event row; the offset is committed only after it. Failures are retried with backoff,
then the record goes to the dead-letter topic with the error, so a poison message never
stalls its partition.

An outage is not a poison message: when a handler fails while the database does not answer
`SELECT 1` (or the broker refuses the dead letter or the offset), the consumer pauses (it
stays in its group, taking no records) and retries without limit until the dependency is back;
no attempt is spent and nothing is dead-lettered. Only what fails with its dependencies healthy
is dead-lettered (`python -m services.common.dead_letters` lists and replays those).

Batch mode, for heavy streams, is `services.common.batches.BatchConsumer`.
"""

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import orjson
import pydantic
import sqlalchemy as sa
from prometheus_client import Counter, Gauge
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from services.common import observability as obs
from services.common.cloudevents import CloudEvent, MalformedEvent
from services.common.contracts import dead_letter_topic
from services.common.kafka import BROKER_ERRORS, IncomingRecord, OutgoingRecord
from services.common.outages import database_down

log = logging.getLogger(__name__)

CONSUMER_PAUSED = Gauge(
    "qunyun_consumer_paused",
    "1 while the consumer waits out an outage of its database or broker.",
    ["consumer"],
)
CONSUMER_OUTAGE_SECONDS = Counter(
    "qunyun_consumer_outage_seconds_total",
    "Time the consumer spent paused by an outage of its database or broker.",
    ["consumer"],
)
# A paused consumer says so once when it pauses, then at most this often.
OUTAGE_LOG_EVERY_SECONDS = 60.0
# A paused consumer probes its database at least this often: a probe is one `SELECT 1`, and
# every second of spacing is up to a second more of pause once the database is back (at the
# handlers' 5 s backoff cap, a Postgres restart's pause ran 5 s past its return).
PROBE_MAX_SECONDS = 1.0

Handler = Callable[[Session, CloudEvent], None]

_metadata = sa.MetaData()
processed_event = sa.Table(
    "processed_event",
    _metadata,
    sa.Column("consumer", sa.Text, primary_key=True),
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)


class Unprocessable(Exception):
    """Raised by a handler for a well-formed event that names what the consumer cannot have
    missed (a community unknown in the event's workspace): retrying cannot help, so the record
    is dead-lettered at once, where an operator sees it and can replay it after the fix."""


# Errors that say the event itself is wrong: retrying cannot help.
_PERMANENT = (MalformedEvent, pydantic.ValidationError, Unprocessable)


def prune_processed(session: Session, now: datetime, *, retention: timedelta) -> int:
    """Forget processed-event ids older than the retention: a redelivery later than that is
    beyond anything Kafka's retention and our retries produce."""
    result = session.connection().execute(
        processed_event.delete().where(processed_event.c.processed_at < now - retention)
    )
    return result.rowcount


class EventSource(Protocol):
    def poll(self, timeout_seconds: float) -> list[IncomingRecord]: ...
    def commit(self, record: IncomingRecord) -> None: ...
    def rewind(self, record: IncomingRecord) -> None: ...
    def idle(self, seconds: float) -> None: ...
    def lag(self) -> dict[tuple[str, int], int]: ...
    def close(self) -> None: ...


class DependencyDown(Exception):
    """The database or broker is unreachable: the record is not at fault; it waits."""


@dataclass
class ConsumerStatus:
    """What `/readyz` says of the consumer: nothing while it works, else why it does not."""

    trouble: str | None = "not started"
    paused_since: float | None = None

    def pause(self, reason: str) -> float:
        """Mark the consumer paused (keeping the first pause's start); seconds paused so far."""
        if self.paused_since is None:
            self.paused_since = time.monotonic()
        self.trouble = f"paused: {reason}"
        return time.monotonic() - self.paused_since

    def working(self) -> float | None:
        """Mark the consumer working; how long it was paused, if it was."""
        paused = None if self.paused_since is None else time.monotonic() - self.paused_since
        self.trouble, self.paused_since = None, None
        return paused


class DeadLetterSink(Protocol):
    def publish(self, records: list[OutgoingRecord]) -> None: ...


class EventConsumer:
    def __init__(
        self,
        engine: Engine,
        *,
        name: str,
        handlers: Mapping[str, Handler],
        dead_letters: DeadLetterSink,
        max_attempts: int = 5,
        backoff_seconds: float = 0.2,
        backoff_max_seconds: float = 5.0,
        status: ConsumerStatus | None = None,
    ):
        self._engine = engine
        self._name = name
        self._handlers = handlers
        self._dead_letters = dead_letters
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._backoff_max = backoff_max_seconds
        self.status = status or ConsumerStatus()
        self._last_outage_log = 0.0

    def handle(self, record: IncomingRecord, stop: threading.Event | None = None) -> str:
        """Process one record; returns its outcome. Raises `DependencyDown` while the database or
        broker is unreachable, anything else only if the record must be redelivered."""
        try:
            event = CloudEvent.from_kafka(record.headers, record.value)
        except MalformedEvent as exc:
            self._dead_letter(record, exc, attempts=0)
            return self._count(record, "unknown", "dead_lettered")
        handler = self._handlers.get(event.type)
        if handler is None:
            return self._count(record, event.type, "ignored")
        token = obs.event_id_var.set(event.id)
        started = time.perf_counter()
        try:
            for attempt in range(1, self._max_attempts + 1):
                try:
                    return self._count(record, event.type, self._apply(handler, event))
                except _PERMANENT as exc:
                    self._dead_letter(record, exc, attempts=attempt)
                    return self._count(record, event.type, "dead_lettered")
                except Exception as exc:
                    if (outage := self._outage(exc)) is not None:
                        raise DependencyDown(outage) from exc
                    if attempt == self._max_attempts:
                        log.exception("handler failed for good", extra={"type": event.type})
                        self._dead_letter(record, exc, attempts=attempt)
                        return self._count(record, event.type, "dead_lettered")
                    obs.CONSUMER_RETRIES.labels(event.type).inc()
                    delay = min(self._backoff * 2 ** (attempt - 1), self._backoff_max)
                    log.warning(
                        "handler failed, retrying", extra={"attempt": attempt, "error": repr(exc)}
                    )
                    if stop is not None and stop.wait(delay):
                        raise InterruptedError("stopping; the record will be redelivered") from exc
                    if stop is None:
                        time.sleep(delay)
            raise AssertionError("unreachable")
        finally:
            obs.CONSUMER_HANDLER_SECONDS.labels(event.type).observe(time.perf_counter() - started)
            obs.event_id_var.reset(token)

    def run(self, source: EventSource, stop: threading.Event, *, poll_seconds: float = 0.5) -> None:
        """Consume until `stop` is set, committing each record's offset after its transaction."""
        self._resumed()  # a new run: connected to the broker, nothing known to be wrong
        try:
            while not stop.is_set():
                records = source.poll(poll_seconds)
                for n, record in enumerate(records):
                    try:
                        self.handle(record, stop)
                    except DependencyDown as exc:
                        self._rewind(source, records[n:])
                        self._ride_out(source, stop, str(exc))
                        break
                    except Exception:
                        self._rewind(source, records[n:])
                        if not stop.is_set():
                            log.exception("record not handled; it will be redelivered")
                            stop.wait(self._backoff_max)
                        break
                    try:
                        source.commit(record)
                    except BROKER_ERRORS as exc:
                        # The work is committed in the database; its redelivery is a duplicate.
                        self._rewind(source, records[n:])
                        self._ride_out(source, stop, f"broker unreachable: {exc}", probe=False)
                        break
                    self._resumed()
                for (topic, partition), lag in source.lag().items():
                    obs.CONSUMER_LAG.labels(topic, str(partition)).set(lag)
        finally:
            source.close()

    def _outage(self, exc: Exception) -> str | None:
        """Why `exc` is an outage rather than the event's fault, or None."""
        if isinstance(exc, BROKER_ERRORS):
            return f"broker unreachable: {exc}"
        # Whatever the handler raised, a database that does not answer is the cause.
        return database_down(self._engine)

    def _ride_out(
        self, source: EventSource, stop: threading.Event, reason: str, *, probe: bool = True
    ) -> None:
        """Wait, in the group but taking nothing, until the database answers again (or, for
        the broker, one backoff: the next attempt is the probe)."""
        delay = self._backoff or 0.2
        while not stop.is_set():
            paused_for = self.status.pause(reason)
            CONSUMER_PAUSED.labels(self._name).set(1)
            now = time.monotonic()
            if now - self._last_outage_log >= OUTAGE_LOG_EVERY_SECONDS:
                self._last_outage_log = now
                log.warning(
                    "consumer paused by an outage; it resumes by itself",
                    extra={
                        "consumer": self._name,
                        "reason": reason,
                        "paused_seconds": round(paused_for, 1),
                    },
                )
            started = time.monotonic()
            try:
                source.idle(delay)
            except BROKER_ERRORS as exc:
                reason = f"broker unreachable: {exc}"
                stop.wait(delay)
            CONSUMER_OUTAGE_SECONDS.labels(self._name).inc(time.monotonic() - started)
            delay = min(delay * 2, self._backoff_max or 5.0, PROBE_MAX_SECONDS)
            if not probe:
                return
            if (still := database_down(self._engine)) is None:
                self._resumed()
                return
            reason = still

    def _resumed(self) -> None:
        if (paused := self.status.working()) is not None:
            CONSUMER_PAUSED.labels(self._name).set(0)
            self._last_outage_log = 0.0
            log.warning(
                "consumer resumed after an outage",
                extra={"consumer": self._name, "paused_seconds": round(paused, 1)},
            )

    @staticmethod
    def _rewind(source: EventSource, unhandled: list[IncomingRecord]) -> None:
        """Deliver every unhandled record of the poll again: the poll moved each partition's
        position past all of its records, not only past the one that failed."""
        first: dict[tuple[str, int], IncomingRecord] = {}
        for record in unhandled:
            first.setdefault((record.topic, record.partition), record)
        for record in first.values():
            try:
                source.rewind(record)
            except Exception:  # the partition may have moved to another member meanwhile
                log.warning("could not rewind; the group's committed offset stands", exc_info=True)

    def _apply(self, handler: Handler, event: CloudEvent) -> str:
        with Session(self._engine) as session, session.begin():
            first_time = session.execute(
                insert(processed_event)
                .values(consumer=self._name, event_id=event.id)
                .on_conflict_do_nothing()
                .returning(processed_event.c.event_id)
            ).first()
            if first_time is None:
                return "duplicate"
            handler(session, event)
        return "processed"

    def _dead_letter(self, record: IncomingRecord, error: Exception, *, attempts: int) -> None:
        headers = [h for h in record.headers if not h[0].startswith("qunyun_dlq_")]
        headers += [
            ("qunyun_dlq_error", f"{type(error).__name__}: {error}"[:2000].encode()),
            ("qunyun_dlq_consumer", self._name.encode()),
            ("qunyun_dlq_attempts", str(attempts).encode()),
            (
                "qunyun_dlq_origin",
                orjson.dumps(
                    {"topic": record.topic, "partition": record.partition, "offset": record.offset}
                ),
            ),
        ]
        dead = OutgoingRecord(
            topic=dead_letter_topic(record.topic),
            key=(record.key or b"").decode("utf-8", "replace"),
            value=record.value or b"",
            headers=headers,
        )
        try:
            self._dead_letters.publish([dead])
        except BROKER_ERRORS as exc:
            raise DependencyDown(f"broker unreachable: {exc}") from exc

    @staticmethod
    def _count(record: IncomingRecord, event_type: str, outcome: str) -> str:
        obs.CONSUMER_HANDLED.labels(record.topic, event_type, outcome).inc()
        return outcome

    # Batch mode: beside the per-event path above, sharing its outage and poison handling.
