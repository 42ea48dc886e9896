"""The transactional outbox: events commit with the change that caused them, a relay publishes.

`emit` writes an event row in the caller's transaction. `OutboxRelay` publishes unsent rows
in order, in batches, and marks them sent. One relay per service database works at a time
(a transaction-scoped advisory lock), so replicas never relay the same row twice and one
community's events keep their order; a crash after publishing and before marking duplicates
a batch, which idempotent consumers absorb.
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from services.common import observability as obs
from services.common.cloudevents import CloudEvent
from services.common.contracts import EventData
from services.common.kafka import OutgoingRecord, PublishFailed

log = logging.getLogger(__name__)

OUTBOX_TABLE = "outbox"
_RELAY_LOCK_KEY = 0x0B0C5E4D

_metadata = sa.MetaData()
outbox = sa.Table(
    OUTBOX_TABLE,
    _metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("headers", JSONB, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
)


def emit(
    session: Session,
    data: EventData,
    *,
    source: str,
    workspace_id: str,
    community_id: str | None,
    subject: str | None = None,
) -> CloudEvent:
    """Add an event to the outbox inside the caller's transaction; returns it."""
    event = data.to_event(
        source=source, workspace_id=workspace_id, community_id=community_id, subject=subject
    )
    enqueue(session, event, topic=data.topic)
    return event


def enqueue(
    session: Session | Connection, event: CloudEvent, *, topic: str, key: str | None = None
) -> None:
    """Add an already-built event to the outbox, bound for `topic`, keyed by `key` (by default
    the event's community, else its workspace)."""
    session.execute(
        outbox.insert().values(
            event_id=event.id,
            topic=topic,
            key=key or event.key,
            headers=event.header_pairs(),
            payload=event.kafka_value(),
        )
    )


def enqueue_all(session: Session | Connection, events: Sequence[tuple[CloudEvent, str]]) -> None:
    """`enqueue` for many events (each with its topic) in one statement, in order. The rows go
    as one JSON parameter expanded by Postgres: the statement's text never changes, so neither
    SQLAlchemy nor psycopg compiles anything per call, however many events there are.

    Each event's data goes into that parameter as JSON, not as a string of JSON: a `json`
    value keeps its text as written, which is exactly `kafka_value()` (orjson writes a nested
    object as it writes one alone), so nothing is serialised twice or escaped; the headers go
    as text pairs, never encoded to bytes and back."""
    if not events:
        return
    session.execute(
        _ENQUEUE_ALL,
        {
            "rows": orjson.dumps(
                [
                    {
                        "e": event.id,
                        "t": topic,
                        "k": event.key,
                        "h": event.header_pairs(),
                        "p": event.data,
                    }
                    for event, topic in events
                ]
            ).decode()
        },
    )


# `WITH ORDINALITY … ORDER BY`: `seq` follows the events' order, which the relay keeps.
# `p json` (not jsonb): its text is the data's bytes as orjson wrote them, whitespace, key
# order and number spelling kept.
_ENQUEUE_ALL = sa.text(
    f"INSERT INTO {OUTBOX_TABLE} (event_id, topic, key, headers, payload) "
    "SELECT e, t, k, h, convert_to(p::text, 'UTF8') "
    "FROM ROWS FROM (json_to_recordset(CAST(:rows AS json)) "
    "AS (e text, t text, k text, h jsonb, p json)) WITH ORDINALITY AS r(e, t, k, h, p, n) "
    "ORDER BY n"
)


class Publisher(Protocol):
    """What the relay needs of a producer; `KafkaPublisher` in production, a fake in unit tests."""

    def publish(self, records: list[OutgoingRecord]) -> None: ...
    def close(self) -> None: ...


# The longest wait between a failed publish and the next attempt.
BROKER_RETRY_MAX_SECONDS = 1.0


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        publisher_factory: Callable[[], Publisher],
        *,
        batch_size: int = 500,
        poll_seconds: float = 0.2,
        retention: timedelta = timedelta(hours=24),
        max_backoff_seconds: float = 5.0,
    ):
        self._engine = engine
        self._publisher_factory = publisher_factory
        self._publisher: Publisher | None = None
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._retention = retention
        self._max_backoff = max_backoff_seconds
        self._last_prune = 0.0

    def relay_batch(self) -> int:
        """Publish one batch of unsent rows and mark them sent; returns how many."""
        with self._engine.begin() as conn:
            if not conn.execute(
                sa.select(sa.func.pg_try_advisory_xact_lock(_RELAY_LOCK_KEY))
            ).scalar():
                return 0  # another replica is relaying
            rows = conn.execute(
                sa.select(
                    outbox.c.seq, outbox.c.topic, outbox.c.key, outbox.c.headers, outbox.c.payload
                )
                .where(outbox.c.sent_at.is_(None))
                .order_by(outbox.c.seq)
                .limit(self._batch_size)
            ).all()
            if not rows:
                return 0
            records = [
                OutgoingRecord(
                    topic=r.topic,
                    key=r.key,
                    value=r.payload,
                    headers=[(k, v.encode()) for k, v in r.headers],
                )
                for r in rows
            ]
            started = time.perf_counter()
            self._ensure_publisher().publish(records)
            obs.OUTBOX_PUBLISH_SECONDS.observe(time.perf_counter() - started)
            conn.execute(
                outbox.update()
                .where(outbox.c.seq.in_([r.seq for r in rows]))
                .values(sent_at=sa.func.now())
            )
        obs.OUTBOX_PUBLISHED.inc(len(rows))
        return len(rows)

    def measure_backlog(self) -> int:
        with self._engine.connect() as conn:
            count, oldest = conn.execute(
                sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)).where(
                    outbox.c.sent_at.is_(None)
                )
            ).one()
        obs.OUTBOX_BACKLOG.set(count)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        obs.OUTBOX_OLDEST_AGE.set(age)
        return int(count)

    def prune_sent(self) -> int:
        """Delete rows sent longer ago than the retention."""
        cutoff = datetime.now(UTC) - self._retention
        with self._engine.begin() as conn:
            result = conn.execute(
                outbox.delete().where(outbox.c.sent_at.is_not(None), outbox.c.sent_at < cutoff)
            )
        return result.rowcount

    def run(self, stop: threading.Event) -> None:
        """Relay until `stop` is set; broker or database outages back off and retry."""
        backoff = self._poll_seconds
        while not stop.is_set():
            try:
                sent = self.relay_batch()
                self.measure_backlog()
                self._maybe_prune()
                backoff = self._poll_seconds
                if sent == self._batch_size:
                    continue  # more is waiting: no pause
            except PublishFailed as exc:
                obs.OUTBOX_PUBLISH_FAILURES.inc()
                log.warning("outbox publish failed, will retry", extra={"error": str(exc)})
                self._drop_publisher()
                # A failed publish has itself waited (its records' delivery timeout, 10 s): a
                # long backoff on top only delays the backlog once the broker is back (it was
                # 5 s of a broker restart's pause).
                backoff = min(backoff * 2, self._max_backoff, BROKER_RETRY_MAX_SECONDS)
            except sa.exc.SQLAlchemyError:
                log.exception("outbox relay database error, will retry")
                backoff = min(backoff * 2, self._max_backoff)
            stop.wait(backoff)
        self._drop_publisher()

    def _maybe_prune(self) -> None:
        if time.monotonic() - self._last_prune > 60:
            self._last_prune = time.monotonic()
            self.prune_sent()

    def connect(self) -> None:
        """Make the producer now rather than at the first row: an idempotent librdkafka
        producer asks for its producer id half a second after it is made (no broker is
        connected when it first tries), and its first publish waits for that. A producer that
        cannot be made yet is left to the first publish, which says why."""
        try:
            self._ensure_publisher()
        except PublishFailed:
            log.debug("no producer for the outbox relay yet", exc_info=True)

    def close(self) -> None:
        """Let go of the producer (`run` does when it ends)."""
        self._drop_publisher()

    def _ensure_publisher(self) -> Publisher:
        if self._publisher is None:
            try:
                self._publisher = self._publisher_factory()
            except Exception as exc:  # a client may refuse to start while no broker answers
                raise PublishFailed(f"cannot connect a producer: {exc}") from exc
        return self._publisher

    def _drop_publisher(self) -> None:
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None
