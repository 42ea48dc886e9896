"""Idempotent event handling: one database transaction per event holds the side effect and the
processed-event row; the offset is committed only after it. Failures are retried with backoff,
then the record goes to the dead-letter topic with the error, so a poison message never
stalls its partition."""

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

import orjson
import pydantic
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from services.common import observability as obs
from services.common.cloudevents import CloudEvent, MalformedEvent
from services.common.contracts import dead_letter_topic
from services.common.kafka import IncomingRecord, OutgoingRecord

log = logging.getLogger(__name__)

Handler = Callable[[Session, CloudEvent], None]

_metadata = sa.MetaData()
processed_event = sa.Table(
    "processed_event",
    _metadata,
    sa.Column("consumer", sa.Text, primary_key=True),
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

# Errors that say the event itself is wrong: retrying cannot help.
_PERMANENT = (MalformedEvent, pydantic.ValidationError)


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
    def lag(self) -> dict[tuple[str, int], int]: ...
    def close(self) -> None: ...


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
    ):
        self._engine = engine
        self._name = name
        self._handlers = handlers
        self._dead_letters = dead_letters
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._backoff_max = backoff_max_seconds

    def handle(self, record: IncomingRecord, stop: threading.Event | None = None) -> str:
        """Process one record; returns its outcome. Raises only if it must be redelivered."""
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
        try:
            while not stop.is_set():
                for record in source.poll(poll_seconds):
                    try:
                        self.handle(record, stop)
                    except Exception:
                        source.rewind(record)
                        if not stop.is_set():
                            log.exception("record not handled; it will be redelivered")
                            stop.wait(self._backoff_max)
                        break
                    source.commit(record)
                for (topic, partition), lag in source.lag().items():
                    obs.CONSUMER_LAG.labels(topic, str(partition)).set(lag)
        finally:
            source.close()

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
        self._dead_letters.publish(
            [
                OutgoingRecord(
                    topic=dead_letter_topic(record.topic),
                    key=(record.key or b"").decode("utf-8", "replace"),
                    value=record.value or b"",
                    headers=headers,
                )
            ]
        )

    @staticmethod
    def _count(record: IncomingRecord, event_type: str, outcome: str) -> str:
        obs.CONSUMER_HANDLED.labels(record.topic, event_type, outcome).inc()
        return outcome
