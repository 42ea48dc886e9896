"""The platform's Kafka layer, as the services and the gateway see it; nothing but this module,
`kafka_records.py`, `rdkafka.py` and `event_source.py` imports `kafka` or `confluent_kafka`.

The clients on the hot paths run on librdkafka (`confluent_kafka`): the producer
(`KafkaPublisher`: the outbox relays, dead letters, the gateway's bulk ingestion) and the
consumer (`KafkaEventSource`: every service's consumer, the webhook dispatcher). kafka-python
builds and parses each record in Python: ~35 µs of CPU per consumed record and 60-120 per
produced one, where librdkafka spends ~7 (`python -m bench kafka_clients`, `docs/ingest.md`);
at 20,000 chat messages a second on two cores only the latter fits.

kafka-python stays for what runs once, not per record: creating topics (`ensure_topics`), the
readiness probe (`broker_reachable`) and the operators' dead-letter reader (`read_since`).
They work, a rewrite would buy no measurable CPU, and their blocking calls with timeouts are
simpler in kafka-python's admin client than in librdkafka's futures.
"""

import contextlib
import time
from collections.abc import Iterable, Iterator

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError, TopicAlreadyExistsError

from services.common.contracts import dead_letter_topic
from services.common.event_source import CONSUMER_FETCH, KafkaEventSource
from services.common.kafka_records import (
    BROKER_ERRORS,
    RECONNECT,
    IncomingRecord,
    OutgoingRecord,
    PublishFailed,
)
from services.common.rdkafka import RdKafkaPublisher

__all__ = [
    "BROKER_ERRORS",
    "CONSUMER_FETCH",
    "PRODUCER_SETTINGS",
    "RECONNECT",
    "IncomingRecord",
    "KafkaEventSource",
    "KafkaPublisher",
    "OutgoingRecord",
    "PublishFailed",
    "broker_reachable",
    "ensure_topics",
    "read_since",
]

# The producer every relay, dead-letter sink and tool publishes through: idempotent,
# `acks=all`, a batch acknowledged whole or `PublishFailed` (see `rdkafka.py`).
KafkaPublisher = RdKafkaPublisher

# kafka-python's producer configured as the platform's producer is (idempotent, `acks=all`,
# 256 KiB batches): the baseline the benchmarks measure librdkafka against.
PRODUCER_SETTINGS = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "batch_size": 256 * 1024,
}


def read_since(
    bootstrap_servers: str, topic: str, *, since_ms: int, timeout_seconds: float = 10
) -> Iterator[IncomingRecord]:
    """Every record of `topic` written at or after `since_ms`, up to the log end as of now;
    outside any consumer group, so reading changes no committed offset."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers.split(","),
        group_id=None,
        enable_auto_commit=False,
        client_id="qunyun-reader",
    )
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        starts = consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
        remaining = {}
        for tp in tps:
            found = starts.get(tp)
            if found is None or found.offset >= ends[tp]:
                continue
            consumer.seek(tp, found.offset)
            remaining[tp] = ends[tp]
        deadline = time.monotonic() + timeout_seconds
        while remaining and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    if tp in remaining and r.offset < remaining[tp]:
                        yield IncomingRecord(
                            r.topic,
                            r.partition,
                            r.offset,
                            r.key,
                            r.value,
                            list(r.headers or []),
                            r.timestamp,
                        )
                if tp in remaining and consumer.position(tp) >= remaining[tp]:
                    del remaining[tp]
    finally:
        consumer.close(autocommit=False)


def ensure_topics(
    bootstrap_servers: str, topics: Iterable[str], *, partitions: int, replication_factor: int = 1
) -> None:
    """Create each topic and its dead-letter topic if missing; existing ones are left alone."""
    wanted = sorted({name for t in topics for name in (t, dead_letter_topic(t))})
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers.split(","), client_id="qunyun-admin"
    )
    try:
        missing = [t for t in wanted if t not in set(admin.list_topics())]
        if not missing:
            return
        spec = {
            t: {"num_partitions": partitions, "replication_factor": replication_factor}
            for t in missing
        }
        # Another process may create them between our look and our create.
        with contextlib.suppress(TopicAlreadyExistsError):
            admin.create_topics(spec, wait_for_metadata=True)
    finally:
        admin.close()


def broker_reachable(bootstrap_servers: str, *, timeout_seconds: float = 2) -> bool:
    """Whether a broker answers a metadata request; used by `/readyz`."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers.split(","),
            client_id="qunyun-readyz",
            request_timeout_ms=int(timeout_seconds * 1000),
            bootstrap_timeout_ms=int(timeout_seconds * 1000),
        )
    except KafkaError:
        return False
    try:
        admin.describe_cluster()
        return True
    except KafkaError:
        return False
    finally:
        admin.close()
