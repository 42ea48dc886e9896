"""Putting an accepted batch on Kafka: one CloudEvent per item, keyed by its group, produced
together and flushed once.

Why not the outbox, as the signed single-event door does: the outbox writes every event to
Postgres and a relay reads it back, which at 20,000 messages a second costs more database
work than the rest of the gateway put together, and the relay's single stream would cap the
rate. Here the claim of the items' identities (`service.claim`) stays open while the batch is
produced to the idempotent `acks=all` producer, and commits only once the broker has
acknowledged every record; a failed produce rolls the claim back. So:

- 202 means every accepted item is on Kafka, replicated as the topic's `min.insync.replicas`
  requires; nothing is left to a relay.
- A failure answers 503 and remembers nothing: the client sends the batch again.
- A gateway crash between the broker's acknowledgement and the commit leaves the items on
  Kafka but unclaimed; the client, which got no answer, sends again, and the items go out a
  second time with the same event ids (derived from their identity, see `event_id`), which the
  consumers' processed-events tables absorb. At least once on Kafka, exactly once in effect.
"""

import hashlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI

from services.common.cloudevents import CloudEvent
from services.common.contracts import EventData
from services.common.kafka import BROKER_ERRORS, OutgoingRecord, PublishFailed
from services.common.outbox import Publisher
from services.common.rdkafka import RdKafkaPublisher

log = logging.getLogger(__name__)

SOURCE = "/qunyun/gateway/ingest"
# Crockford's base32 (as `services.common.ids` spells ids), ten bits at a time: two
# characters per lookup. `base64.b32encode` spelled the same in pure Python at 5 µs an id.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]
_SHIFTS = range(120, -1, -10)


def event_id(workspace_id: str, platform: str, kind: str, external_id: str) -> str:
    """The event id of an ingested item, the same every time the item is sent: 128 bits of a
    hash of its identity, spelled as the platform's ids are (`evt_` + 26 Crockford chars,
    the RFC 4648 base32 of the digest in Crockford's alphabet, unpadded)."""
    digest = hashlib.blake2b(
        "\x1f".join((workspace_id, platform, kind, external_id)).encode(), digest_size=16
    ).digest()
    # 26 characters carry 130 bits: the digest's 128 and two zero bits, as base32 pads them.
    bits = int.from_bytes(digest) << 2
    return "evt_" + "".join([_PAIRS[(bits >> shift) & 1023] for shift in _SHIFTS])


class Envelope:
    """The CloudEvents of one batch: the headers its records share (source, time, workspace,
    ...) made once, as `CloudEvent.kafka_headers` writes them; each record puts in its id,
    type and subject. (A `CloudEvent` per record cost 10 µs a message, a tenth of the gateway's
    share of the work; building each header list anew, 3 µs more.)"""

    def __init__(self, *, workspace_id: str, source: str, now: datetime):
        self._shared = CloudEvent(
            type="", source=source, workspaceid=workspace_id, data={}, subject="", id="", time=now
        ).kafka_headers()
        names = [name for name, _ in self._shared]
        self._at_id = names.index("ce_id")
        self._at_type = names.index("ce_type")
        self._at_subject = names.index("ce_subject")
        self._types: dict[str, tuple[str, bytes]] = {}

    def record(self, data: EventData, *, event_id: str) -> OutgoingRecord:
        """The Kafka record of one item: keyed by its group (as the signed single-event door
        keys it), the contract's JSON as the value."""
        platform: str = getattr(data, "platform", "")
        group: str = getattr(data, "group_external_id", "")
        event_type = self._types.get(data.type)
        if event_type is None:
            event_type = self._types[data.type] = ("ce_type", data.type.encode())
        headers = self._shared.copy()
        headers[self._at_id] = ("ce_id", event_id.encode())
        headers[self._at_type] = event_type
        headers[self._at_subject] = ("ce_subject", group.encode())
        return OutgoingRecord(
            topic=data.topic,
            # Keyed by group, not workspace: one busy workspace's chat spreads over partitions
            # while each group's messages keep their order (`gateway.inbound.ingest_key`).
            key=f"{platform}:{group}",
            value=data.__pydantic_serializer__.to_json(data),
            headers=headers,
        )


class IngestProducer:
    """The gateway's producer for ingested batches: made on first use (the gateway starts and
    serves while the broker is away) and made anew after a failure, as the outbox relay does."""

    def __init__(self, make: Callable[[], Publisher]):
        self._make = make
        self._publisher: Publisher | None = None
        self._lock = threading.Lock()

    def publish(self, records: list[OutgoingRecord]) -> None:
        """Send every record and wait until the broker acknowledged all (`acks=all`); raises
        `PublishFailed` otherwise."""
        publisher = None
        try:
            publisher = self._current()
            publisher.publish(records)
        except BROKER_ERRORS as exc:
            self._discard(publisher)
            raise PublishFailed(str(exc)) from exc

    def _current(self) -> Publisher:
        with self._lock:
            if self._publisher is None:
                self._publisher = self._make()
            return self._publisher

    def _discard(self, failed: Publisher | None) -> None:
        # Only the producer that failed: another thread may have replaced it already.
        with self._lock:
            if failed is None or self._publisher is not failed:
                return
            self._publisher = None
        failed.close()

    def close(self) -> None:
        self._discard(self._publisher)


@asynccontextmanager
async def ingest_producer(app: FastAPI) -> AsyncIterator[None]:
    """The gateway's `IngestProducer` in `app.state.ingest_producer`, closed at shutdown."""
    settings = app.state.settings
    # librdkafka, not kafka-python as everywhere else: a tenth of the CPU per record, which
    # is what makes 20,000 messages a second fit on two cores (`services.common.kafka`).
    producer = IngestProducer(
        lambda: RdKafkaPublisher(
            settings.kafka_bootstrap_servers,
            client_id="gateway-ingest",
            # A client waits this long at most before its 503 while the broker is away.
            timeout_seconds=10,
            topic_prefix=settings.kafka_topic_prefix,
        )
    )
    app.state.ingest_producer = producer
    try:
        yield
    finally:
        producer.close()
