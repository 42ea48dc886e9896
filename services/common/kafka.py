"""The thin adapter between the platform and kafka-python; nothing else imports `kafka`."""

import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from services.common.contracts import dead_letter_topic

log = logging.getLogger(__name__)


class PublishFailed(Exception):
    """The broker did not acknowledge every record of a batch."""


@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    key: str
    value: bytes
    headers: list[tuple[str, bytes]]


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
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_block_ms=int(timeout_seconds * 1000),
            request_timeout_ms=int(timeout_seconds * 1000),
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
        try:
            self._producer.close(timeout=self._timeout)
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


class KafkaEventSource:
    """A consumer-group member for at-least-once processing: offsets are committed by hand,
    after the work they stand for has been committed to the database."""

    def __init__(
        self, bootstrap_servers: str, *, group_id: str, topics: Iterable[str], client_id: str
    ):
        self._consumer = KafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap_servers.split(","),
            group_id=group_id,
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=100,
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
        self._consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "", -1)})

    def rewind(self, record: IncomingRecord) -> None:
        """Deliver `record` again on the next poll."""
        self._consumer.seek(TopicPartition(record.topic, record.partition), record.offset)

    def lag(self) -> dict[tuple[str, int], int]:
        lags = {}
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is not None:
                lags[(tp.topic, tp.partition)] = max(highwater - self._consumer.position(tp), 0)
        return lags

    def close(self) -> None:
        self._consumer.close(autocommit=False)


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
