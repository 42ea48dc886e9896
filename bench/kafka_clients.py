"""The kit's Kafka clients against kafka-python, as the kit had them, in one run on one real
broker: CPU per record (`time.process_time`, every thread of this process, so librdkafka's
own threads count) of

1. the outbox relay publishing chat-sized CloudEvents in batches of 500 (the relay's batch,
   each batch awaited whole): `KafkaPublisher` (librdkafka) against kafka-python's producer
   configured as the kit's was (`PRODUCER_SETTINGS`, murmur2 hashes of keys remembered);
2. a consumer-group member reading every record of a 3-partition topic, polls of 500 (the
   batch consumer's) with the last offset of each partition committed after each poll, as
   the batch consumer does: `KafkaEventSource` (librdkafka) against kafka-python's consumer
   configured as the kit's was (same session, fetch and reconnect settings).

Both consumers read the same records (each its own group); both producers write to the topic
they read. Target: the kit's consumer at least 3x cheaper per record than kafka-python's.
Wall-clock rates are printed too, but on a machine others load only CPU per record compares.
Sizes: BENCH_KAFKA_RECORDS (200,000 read; half of them published by each producer).
"""

import os
import time
import uuid
from collections.abc import Callable, Sequence

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.partitioner.default import DefaultPartitioner, murmur2
from kafka.structs import OffsetAndMetadata

from bench.broker import running_broker
from bench.timing import table
from services.common.cloudevents import CloudEvent
from services.common.contracts import ChatMessagePosted
from services.common.event_source import (
    CONSUMER_FETCH,
    CONSUMER_HEARTBEAT_INTERVAL_MS,
    CONSUMER_MAX_POLL_INTERVAL_MS,
    CONSUMER_SESSION_TIMEOUT_MS,
)
from services.common.kafka import (
    PRODUCER_SETTINGS,
    RECONNECT,
    IncomingRecord,
    KafkaEventSource,
    KafkaPublisher,
    OutgoingRecord,
    ensure_topics,
)

TARGET_RATIO = 3.0
BATCH = 500
GROUPS = 200


class _KeyedPartitioner(DefaultPartitioner):
    """The kit's kafka-python partitioner: murmur2 of the key, each key's hash remembered."""

    def __init__(self) -> None:
        super().__init__()
        self._hashes: dict[bytes, int] = {}

    def partition(self, topic, key, serialized_key, value, serialized_value, cluster):
        partitions = cluster.partitions_for_topic(topic)
        if serialized_key is None or not partitions:
            return super().partition(topic, key, serialized_key, value, serialized_value, cluster)
        digest = self._hashes.get(serialized_key)
        if digest is None:
            digest = self._hashes[serialized_key] = murmur2(serialized_key) & 0x7FFFFFFF
        ordered = sorted(partitions)
        return ordered[digest % len(ordered)]


class _PythonPublisher:
    """The kit's relay producer before librdkafka (kafka-python, its `publish`)."""

    def __init__(self, servers: str):
        self._producer = KafkaProducer(
            bootstrap_servers=servers.split(","),
            partitioner=_KeyedPartitioner(),
            **PRODUCER_SETTINGS,
            **RECONNECT,
        )

    def publish(self, records: Sequence[OutgoingRecord]) -> None:
        futures = [
            self._producer.send(r.topic, value=r.value, key=r.key.encode(), headers=r.headers)
            for r in records
        ]
        self._producer.flush(timeout=30)
        for future in futures:
            future.get(timeout=30)

    def close(self) -> None:
        self._producer.close(timeout=5)


class _PythonEventSource:
    """The kit's `KafkaEventSource` before librdkafka: its settings, its `poll` and `commit`."""

    def __init__(self, servers: str, *, group_id: str, topic: str):
        self._consumer = KafkaConsumer(
            bootstrap_servers=servers.split(","),
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=BATCH,
            session_timeout_ms=CONSUMER_SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=CONSUMER_HEARTBEAT_INTERVAL_MS,
            max_poll_interval_ms=CONSUMER_MAX_POLL_INTERVAL_MS,
            **CONSUMER_FETCH,
            **RECONNECT,
        )
        self._consumer.subscribe([topic])

    def poll(self, timeout_seconds: float) -> list[IncomingRecord]:
        batches = self._consumer.poll(timeout_ms=int(timeout_seconds * 1000))
        return [
            IncomingRecord(r.topic, r.partition, r.offset, r.key, r.value, list(r.headers or []))
            for records in batches.values()
            for r in records
        ]

    def commit(self, record: IncomingRecord) -> None:
        tp = TopicPartition(record.topic, record.partition)
        self._consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "", -1)}, timeout_ms=5000)

    def close(self) -> None:
        self._consumer.close(autocommit=False, timeout_ms=3000)


def _records(topic: str, count: int) -> list[OutgoingRecord]:
    """Chat messages as the outbox relays them: ~350 bytes, eight CloudEvents headers."""
    out = []
    for n in range(count):
        event = CloudEvent(
            type=ChatMessagePosted.type,
            source="/bench",
            workspaceid="ws_bench",
            communityid=f"cmt_{n % GROUPS}",
            data={
                "platform": "wechat",
                "group_external_id": f"g{n % GROUPS}@chatroom",
                "message_external_id": f"m{n}",
                "sender_external_id": f"u{n % 5000}",
                "kind": "text",
                "text": "今晚的活动大家记得准时参加，带上邀请码，不见不散！" * 2,
                "sent_at": "2026-11-30T12:00:00Z",
            },
        )
        out.append(OutgoingRecord(topic, event.key, event.kafka_value(), event.kafka_headers()))
    return out


def _publish(make: Callable[[], object], records: list[OutgoingRecord]) -> tuple[float, float]:
    """Records a second and CPU seconds per record, publishing `records` in relay batches."""
    publisher = make()
    publisher.publish(records[:BATCH])  # type: ignore[attr-defined]  # connect, warm up
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(BATCH, len(records), BATCH):
        publisher.publish(records[start : start + BATCH])  # type: ignore[attr-defined]
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    publisher.close()  # type: ignore[attr-defined]
    sent = len(records) - BATCH
    return sent / elapsed, cpu / sent


def _consume(make: Callable[[], object], count: int) -> tuple[float, float]:
    """Records a second and CPU seconds per record, from the first record polled (the group
    join left out), polling and committing as the batch consumer does."""
    source = make()
    records: list[IncomingRecord] = []
    deadline = time.monotonic() + 60
    while not records and time.monotonic() < deadline:
        records = source.poll(0.5)  # type: ignore[attr-defined]
    started, cpu = time.perf_counter(), time.process_time()
    read = 0
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        read += len(records)
        last: dict[tuple[str, int], IncomingRecord] = {}
        for record in records:
            last[(record.topic, record.partition)] = record
        for record in last.values():
            source.commit(record)  # type: ignore[attr-defined]
        if read >= count:
            break
        records = source.poll(0.5)  # type: ignore[attr-defined]
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    source.close()  # type: ignore[attr-defined]
    if read != count:
        raise RuntimeError(f"read {read:,} of {count:,} records")
    return read / elapsed, cpu / read


def benchmark(_server_url: str) -> bool:
    count = int(os.environ.get("BENCH_KAFKA_RECORDS", "200000"))
    half = count // 2
    with running_broker() as servers:
        topic = f"bench.clients.{uuid.uuid4().hex[:6]}"
        ensure_topics(servers, [topic], partitions=3)
        records = _records(topic, half)
        old_pub = _publish(lambda: _PythonPublisher(servers), records)
        new_pub = _publish(lambda: KafkaPublisher(servers, client_id="bench-relay"), records)
        total = 2 * len(records)  # each producer sent them all, its warm-up batch too
        old_read = _consume(
            lambda: _PythonEventSource(servers, group_id=f"{topic}.python", topic=topic), total
        )
        new_read = _consume(
            lambda: KafkaEventSource(
                servers,
                group_id=f"{topic}.kit",
                topics=[topic],
                client_id="bench-kit",
                max_poll_records=BATCH,
            ),
            total,
        )

    def row(name: str, figures: tuple[float, float], baseline: tuple[float, float]) -> list[str]:
        rate, cpu = figures
        return [name, f"{rate:,.0f}", f"{cpu * 1e6:,.1f}", f"{baseline[1] / cpu:,.1f}x"]

    print(
        table(
            ["client (3 partitions, batches of 500)", "records/s", "CPU µs/record", "cheaper"],
            [
                row("relay: kafka-python producer (as the kit had it)", old_pub, old_pub),
                row("relay: KafkaPublisher (librdkafka)", new_pub, old_pub),
                row("consumer: kafka-python (as the kit had it)", old_read, old_read),
                row("consumer: KafkaEventSource (librdkafka)", new_read, old_read),
            ],
        )
    )
    ratio = old_read[1] / new_read[1]
    met = ratio >= TARGET_RATIO
    print(
        f"the kit's consumer: {ratio:.1f}x less CPU per record than kafka-python's "
        f"(target ≥ {TARGET_RATIO:.0f}x): {'met' if met else 'MISSED'}"
    )
    return met
