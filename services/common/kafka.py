"""The thin adapter between the platform and its Kafka clients; nothing but this module and
`rdkafka.py` imports `kafka` or `confluent_kafka`.

kafka-python for everything, except the gateway's bulk ingestion, which produces through
librdkafka (`rdkafka.RdKafkaPublisher`): kafka-python builds each record in Python, about
75 µs of CPU for a 350-byte chat message with its eight CloudEvents headers, where librdkafka
spends 7 (figures in `docs/ingest.md`); at 20,000 messages a second on two cores only the
latter fits.
"""

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import confluent_kafka
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.partitioner.default import DefaultPartitioner, murmur2
from kafka.structs import OffsetAndMetadata

from services.common.contracts import dead_letter_topic

log = logging.getLogger(__name__)


class PublishFailed(Exception):
    """The broker did not acknowledge every record of a batch."""


# What kafka-python raises when the broker is unreachable (and our wrapper of it): callers
# classify outages with this instead of importing kafka-python themselves.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    KafkaError,
    confluent_kafka.KafkaException,
    PublishFailed,
)

# kafka-python backs off reconnects up to 30 s by default: after a broker restart a client
# would sit idle half a minute. One second finds a returning broker almost at once. And a
# partition whose leader changed (a restarted broker bumps the leader epoch) can stall until
# the next metadata refresh, 5 min by default: refresh every 5 s instead (a tiny request).
RECONNECT = {
    "reconnect_backoff_ms": 100,
    "reconnect_backoff_max_ms": 1000,
    "metadata_max_age_ms": 5000,
}

# A consumer that dies without leaving its group holds its partitions until its session
# times out (kafka-python's default: 45 s). 6 s is the broker's smallest allowed session
# (`group.min.session.timeout.ms`), with a heartbeat every 2 s; together with the restart of
# the process that makes processing resume within 10 s of a crash. A clean shutdown leaves
# the group at once (`close()`), so a deploy does not wait at all.
CONSUMER_SESSION_TIMEOUT_MS = 6000
CONSUMER_HEARTBEAT_INTERVAL_MS = 2000
# Time one poll's records may take to handle before the member is considered stuck and its
# partitions move; a consumer riding out an outage keeps polling (paused), so this is not
# the bound of an outage.
CONSUMER_MAX_POLL_INTERVAL_MS = 120_000
# How a consumer fetches. kafka-python's defaults (wait up to 500 ms for data, 1 MB a
# partition) left a consumer of a multi-partition topic idle half of each second: after it
# drained one partition's megabyte its next fetch sat out the full wait on a partition with
# nothing new, so three partitions with a backlog read 3,900 records/s where one read 27,000
# (bench.metrics_fold). 100 ms bounds that stall and 4 MB a partition makes it rare: 33,000/s.
CONSUMER_FETCH = {"fetch_max_wait_ms": 100, "max_partition_fetch_bytes": 4 * 1024 * 1024}


# Slots: a frozen dataclass sets each field through `object.__setattr__`, which with a
# `__dict__` to fill cost 1 µs more a record; bulk ingestion makes 20,000 a second.
@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    topic: str
    key: str
    value: bytes
    headers: list[tuple[str, bytes]]


class _KeyedPartitioner(DefaultPartitioner):
    """kafka-python's partitioner (murmur2 of the key, as Java clients place keys), with the
    hash of each key remembered: a community's or group's events come again and again, and
    the pure-Python murmur2 was a tenth of the cost of producing a chat message."""

    def __init__(self) -> None:
        super().__init__()
        self._hashes: dict[bytes, int] = {}

    def partition(self, topic, key, serialized_key, value, serialized_value, cluster):
        if serialized_key is None:
            return super().partition(topic, key, None, value, serialized_value, cluster)
        partitions = cluster.partitions_for_topic(topic)
        if not partitions:
            return super().partition(topic, key, serialized_key, value, serialized_value, cluster)
        digest = self._hashes.get(serialized_key)
        if digest is None:
            if len(self._hashes) >= 100_000:
                self._hashes.clear()
            digest = self._hashes[serialized_key] = murmur2(serialized_key) & 0x7FFFFFFF
        ordered = sorted(partitions)
        return ordered[digest % len(ordered)]


# What makes `KafkaPublisher` idempotent and durable, and how it batches; named, so the ingest
# benchmark's raw kafka-python baseline is configured exactly as the platform's producer.
# 256 KiB batches instead of 16: a batch of 500 chat messages (~200 KiB) goes out in one
# request per partition instead of a dozen, 12 % less CPU per record (`docs/ingest.md`).
PRODUCER_SETTINGS = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "batch_size": 256 * 1024,
}


class KafkaPublisher:
    """Idempotent producer with `acks=all`: a batch either is acknowledged whole or raises."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str,
        timeout_seconds: float = 10,
        topic_prefix: str = "",
    ):
        self._timeout = timeout_seconds
        self._prefix = topic_prefix
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers.split(","),
            client_id=client_id,
            partitioner=_KeyedPartitioner(),
            max_block_ms=int(timeout_seconds * 1000),
            request_timeout_ms=int(timeout_seconds * 1000),
            **PRODUCER_SETTINGS,
            **RECONNECT,
        )

    def publish(self, records: Sequence[OutgoingRecord]) -> None:
        try:
            futures = [
                self._producer.send(
                    self._prefix + r.topic, value=r.value, key=r.key.encode(), headers=r.headers
                )
                for r in records
            ]
            self._producer.flush(timeout=self._timeout)
            for future in futures:
                future.get(timeout=self._timeout)
        except KafkaError as exc:
            raise PublishFailed(str(exc)) from exc

    def close(self) -> None:
        # Short: every batch was flushed by `publish`; a producer closed after a failure is
        # being abandoned, and waiting on it would only delay its replacement.
        try:
            self._producer.close(timeout=2)
        except KafkaError:
            log.warning("producer did not close cleanly", exc_info=True)


@dataclass(frozen=True)
class IncomingRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp_ms: int | None = None


class KafkaEventSource:
    """A consumer-group member for at-least-once processing: offsets are committed by hand,
    after the work they stand for has been committed to the database."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        group_id: str,
        topics: Iterable[str],
        client_id: str,
        max_poll_records: int = 100,
        metadata_timeout_seconds: float = 30,
    ):
        topics = sorted(topics)
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers.split(","),
            group_id=group_id,
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_poll_records,
            session_timeout_ms=CONSUMER_SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=CONSUMER_HEARTBEAT_INTERVAL_MS,
            max_poll_interval_ms=CONSUMER_MAX_POLL_INTERVAL_MS,
            **CONSUMER_FETCH,
            **RECONNECT,
        )
        self._await_partitions(topics, timeout_seconds=metadata_timeout_seconds)
        self._consumer.subscribe(topics)

    def _await_partitions(self, topics: list[str], *, timeout_seconds: float) -> None:
        """Join the group only once this consumer's metadata knows every topic's partitions.
        Topics just created reach a broker's metadata a moment later; a member that joins
        before then is assigned nothing, and kafka-python may not rejoin when the partitions
        do appear: the consumer would sit idle (CI caught metrics doing exactly that)."""
        deadline = time.monotonic() + timeout_seconds
        missing = list(topics)
        while missing:
            missing = [t for t in missing if not self._consumer.partitions_for_topic(t)]
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if missing:
            log.warning(
                "joining the group before the metadata of some topics arrived",
                extra={"topics": missing},
            )

    def poll(self, timeout_seconds: float) -> list[IncomingRecord]:
        batches = self._consumer.poll(timeout_ms=int(timeout_seconds * 1000))
        return [
            IncomingRecord(r.topic, r.partition, r.offset, r.key, r.value, list(r.headers or []))
            for records in batches.values()
            for r in records
        ]

    def commit(self, record: IncomingRecord) -> None:
        """Mark everything up to and including `record` as done."""
        tp = TopicPartition(record.topic, record.partition)
        # Bounded: with the broker away, the consumer should pause, not hang 30 s on a commit.
        self._consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "", -1)}, timeout_ms=5000)

    def rewind(self, record: IncomingRecord) -> None:
        """Deliver `record` again on the next poll."""
        self._consumer.seek(TopicPartition(record.topic, record.partition), record.offset)

    def idle(self, seconds: float) -> None:
        """Stay in the group for `seconds` without taking records (a paused consumer must
        keep polling, or the group would think it dead); whatever arrives is delivered again."""
        self._consumer.pause(*self._consumer.assignment())
        try:
            first: dict[TopicPartition, int] = {}
            for tp, records in self._consumer.poll(timeout_ms=int(seconds * 1000)).items():
                if records:
                    first.setdefault(tp, records[0].offset)
            for tp, offset in first.items():
                self._consumer.seek(tp, offset)
        finally:
            # Even when the poll fails: a partition left paused would never be consumed again.
            self._consumer.resume(*self._consumer.paused())

    def lag(self) -> dict[tuple[str, int], int]:
        lags = {}
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                # Bounded: a position unknown after a rebalance needs the broker, which may
                # be away; a gauge is not worth blocking the consumer for.
                position = self._consumer.position(tp, timeout_ms=1000)
            except KafkaError:
                continue
            if position is not None:
                lags[(tp.topic, tp.partition)] = max(highwater - position, 0)
        return lags

    def close(self) -> None:
        """Leave the group, so its partitions move to another member at once (bounded, so a
        shutdown during a broker outage does not hang)."""
        self._consumer.close(autocommit=False, timeout_ms=3000)


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
