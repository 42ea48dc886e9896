"""Kafka in: every topic, the dispatcher's own consumer group, one polled batch per
transaction. Replicas split the partitions between them.

The queue's unique (endpoint, event id) makes a redelivered batch queue nothing twice, so the
offsets are committed after the batch's transaction and a crash in between costs nothing.
This uses the kit's Kafka adapter rather than `EventConsumer`: that one commits per event,
which would cap ingestion well below the deliveries a second we must sustain.
"""

import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Engine

from gateway.webhooks import queue
from gateway.webhooks.metrics import QUEUED
from services.common import observability as obs
from services.common.cloudevents import CloudEvent, MalformedEvent
from services.common.contracts import ALL_TOPICS
from services.common.kafka import IncomingRecord, KafkaEventSource, ensure_topics
from services.common.settings import ServiceSettings

log = logging.getLogger(__name__)

CONSUMER = "webhooks"


def consumer_group(settings: ServiceSettings) -> str:
    return f"{settings.kafka_topic_prefix}qunyun-{CONSUMER}"


def queue_batch(engine: Engine, records: list[IncomingRecord]) -> int:
    """Queue the messages a batch of records calls for, in one transaction."""
    events = []
    handled: Counter[tuple[str, str]] = Counter()
    for record in records:
        try:
            events.append(CloudEvent.from_kafka(record.headers, record.value))
            outcome = "processed"
        except MalformedEvent:
            # Nothing to deliver; the owning service dead-letters it for its own consumer.
            outcome = "ignored"
        handled[(record.topic, outcome)] += 1
    # Counted once per topic and outcome a batch, not a labelled lookup per record.
    for (topic, outcome), count in handled.items():
        obs.CONSUMER_HANDLED.labels(topic, "*", outcome).inc(count)
    with engine.begin() as conn:
        queued = queue.queue_events(conn, events, datetime.now(UTC))
    QUEUED.inc(queued)
    return queued


def run_ingest(
    engine: Engine,
    settings: ServiceSettings,
    stop: threading.Event,
    on_queued: Callable[[], None],
) -> None:
    """Consume until `stop`; an unreachable broker or database pauses and retries."""
    topics = [settings.kafka_topic_prefix + t for t in ALL_TOPICS]
    while not stop.is_set():
        source = None
        try:
            ensure_topics(
                settings.kafka_bootstrap_servers,
                topics,
                partitions=settings.kafka_partitions,
                replication_factor=settings.kafka_replication_factor,
            )
            source = KafkaEventSource(
                settings.kafka_bootstrap_servers,
                group_id=consumer_group(settings),
                topics=topics,
                client_id="webhooks-dispatcher",
                # One transaction (and one look-up of the endpoints) per 500 records.
                max_poll_records=500,
            )
            _consume(engine, source, stop, on_queued)
        except Exception:
            log.exception("webhook ingest stopped; restarting")
            stop.wait(2)
        finally:
            if source is not None:
                source.close()


def _consume(
    engine: Engine,
    source: KafkaEventSource,
    stop: threading.Event,
    on_queued: Callable[[], None],
) -> None:
    while not stop.is_set():
        records = source.poll(0.5)
        if records:
            try:
                if queue_batch(engine, records):
                    on_queued()
            except sa.exc.SQLAlchemyError:
                log.exception("database unreachable; the batch will be read again")
                for first in _first_per_partition(records):
                    source.rewind(first)
                stop.wait(2)
                continue
            for last in _last_per_partition(records):
                source.commit(last)
        for (topic, partition), lag in source.lag().items():
            obs.CONSUMER_LAG.labels(topic, str(partition)).set(lag)


def _first_per_partition(records: list[IncomingRecord]) -> list[IncomingRecord]:
    firsts: dict[tuple[str, int], IncomingRecord] = {}
    for record in records:
        firsts.setdefault((record.topic, record.partition), record)
    return list(firsts.values())


def _last_per_partition(records: list[IncomingRecord]) -> list[IncomingRecord]:
    return list({(r.topic, r.partition): r for r in records}.values())
