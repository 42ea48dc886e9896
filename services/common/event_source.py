"""`KafkaEventSource`, the consumer-group member every service's consumer and the webhook
dispatcher read through, on librdkafka (`confluent_kafka.Consumer`): it spends ~7 µs of CPU
per record where kafka-python spent ~35 (`python -m bench kafka_clients`), and at 20,000
chat messages a second on two cores that difference is a core's third.

The promise is at-least-once: offsets are committed by hand, each only after the database
transaction of the records it covers, and only for partitions this member still owns.
"""

import logging
import time
from collections.abc import Iterable

import confluent_kafka
from confluent_kafka import TopicPartition

from services.common.kafka_records import IncomingRecord, librdkafka_reconnect
from services.common.librdkafka_log import librdkafka_log

log = logging.getLogger(__name__)

# A consumer that dies without leaving its group holds its partitions until its session
# times out (librdkafka's default: 45 s). 6 s is the broker's smallest allowed session
# (`group.min.session.timeout.ms`), with a heartbeat every 2 s; together with the restart of
# the process that makes processing resume within 10 s of a crash. A clean shutdown leaves
# the group at once (`close()`), so a deploy does not wait at all.
CONSUMER_SESSION_TIMEOUT_MS = 6000
CONSUMER_HEARTBEAT_INTERVAL_MS = 2000
# Time one poll's records may take to handle before the member is considered stuck and its
# partitions move; a consumer riding out an outage keeps polling (paused), so this is not
# the bound of an outage.
CONSUMER_MAX_POLL_INTERVAL_MS = 120_000
# How a consumer fetches. Waiting up to 500 ms for data, 1 MB a partition (kafka-python's
# defaults) left a consumer of a multi-partition topic idle half of each second: after it
# drained one partition's megabyte its next fetch sat out the full wait on a partition with
# nothing new, so three partitions with a backlog read 3,900 records/s where one read 27,000
# (bench.metrics_fold). 100 ms bounds that stall and 4 MB a partition makes it rare.
CONSUMER_FETCH = {"fetch_max_wait_ms": 100, "max_partition_fetch_bytes": 4 * 1024 * 1024}
# A request the broker does not answer fails after this (librdkafka's default: 60 s). It is
# what bounds a synchronous offset commit to a broker that stopped answering (one that is
# gone refuses the connection at once), so a consumer pauses instead of hanging a minute.
SOCKET_TIMEOUT_MS = 5000

_PARTITION_EOF = confluent_kafka.KafkaError._PARTITION_EOF


def consumer_config(bootstrap_servers: str, *, group_id: str, client_id: str) -> dict[str, object]:
    """`KafkaEventSource`'s librdkafka configuration (the clients benchmark uses it too)."""
    return {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group_id,
        "client.id": client_id,
        # Offsets are committed by `commit` alone, after the database commit. Nothing is
        # stored implicitly either: a stored offset would be committed by any argument-less
        # commit or at close, past records not yet handled.
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": CONSUMER_SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": CONSUMER_HEARTBEAT_INTERVAL_MS,
        "max.poll.interval.ms": CONSUMER_MAX_POLL_INTERVAL_MS,
        "fetch.wait.max.ms": CONSUMER_FETCH["fetch_max_wait_ms"],
        "max.partition.fetch.bytes": CONSUMER_FETCH["max_partition_fetch_bytes"],
        "socket.timeout.ms": SOCKET_TIMEOUT_MS,
        **librdkafka_reconnect(),
    }


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
        self._max_poll_records = max_poll_records
        # The partitions this member owns, as of the last rebalance it took part in; kept by
        # the rebalance callbacks, which librdkafka runs inside `consume`.
        self._owned: set[tuple[str, int]] = set()
        # Assignments received, for tests and logs.
        self.rebalances = 0
        self._consumer = confluent_kafka.Consumer(
            consumer_config(bootstrap_servers, group_id=group_id, client_id=client_id)
            | {"logger": librdkafka_log}
        )
        self._await_partitions(topics, timeout_seconds=metadata_timeout_seconds)
        self._consumer.subscribe(
            topics, on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._revoked
        )

    def _assigned(
        self, consumer: confluent_kafka.Consumer, partitions: list[TopicPartition]
    ) -> None:
        self._owned = {(tp.topic, tp.partition) for tp in partitions}
        self.rebalances += 1
        # librdkafka keeps a partition's pause across a rebalance: one paused by `idle` when
        # the group took it away, given back later, would never be fetched again.
        consumer.assign(partitions)
        consumer.resume(partitions)

    def _revoked(self, _consumer: object, partitions: list[TopicPartition]) -> None:
        self._owned -= {(tp.topic, tp.partition) for tp in partitions}

    def _await_partitions(self, topics: list[str], *, timeout_seconds: float) -> None:
        """Join the group once the broker's metadata knows every topic's partitions. Topics
        just created reach a broker's metadata a moment later; a member that joins before then
        is assigned nothing. librdkafka does rejoin when they appear (kafka-python did not),
        but only at its next metadata refresh, up to 5 s later: waiting here is quicker."""
        deadline = time.monotonic() + timeout_seconds
        missing = list(topics)
        while missing and time.monotonic() < deadline:
            try:
                known = self._consumer.list_topics(timeout=2).topics
            except confluent_kafka.KafkaException:
                known = {}
            missing = [
                t for t in missing if t not in known or known[t].error or not known[t].partitions
            ]
            if missing:
                time.sleep(0.2)
        if missing:
            log.warning(
                "joining the group before the metadata of some topics arrived",
                extra={"topics": missing},
            )

    def poll(self, timeout_seconds: float) -> list[IncomingRecord]:
        # librdkafka's `consume(n, timeout)` returns only when it has n messages or the
        # timeout has passed: at a chat group's pace every event waited out the whole timeout
        # (webhook deliveries p50 448 ms, moderation p99 787 ms at 500/s). Wait for the first
        # message only, then take what has already been fetched without waiting.
        first = self._consumer.poll(timeout_seconds)
        if first is None:
            return []
        messages = [first]
        if self._max_poll_records > 1:
            messages += self._consumer.consume(self._max_poll_records - 1, 0)
        records: list[IncomingRecord] = []
        append = records.append
        for m in messages:
            if (error := m.error()) is not None:
                self._failed(error)
                continue
            append(
                IncomingRecord(
                    m.topic(),  # type: ignore[arg-type]
                    m.partition(),  # type: ignore[arg-type]
                    m.offset(),  # type: ignore[arg-type]
                    m.key(),
                    m.value(),
                    m.headers() or [],  # type: ignore[arg-type]
                )
            )
        return records

    @staticmethod
    def _failed(error: confluent_kafka.KafkaError) -> None:
        """An event librdkafka delivers in place of a record: the end of a partition (not a
        record), a broker gone (librdkafka reconnects by itself, as kafka-python did
        silently), or a fatal error, which no retry of this consumer can mend."""
        if error.code() == _PARTITION_EOF:
            return
        if error.fatal():
            raise confluent_kafka.KafkaException(error)
        log.debug("consumer error", extra={"error": error.str()})

    def commit(self, record: IncomingRecord) -> None:
        """Mark everything up to and including `record` as done, unless its partition moved to
        another member since it was polled: that member started from the offset committed
        before, reads `record` again (a duplicate, which consumers skip) and commits its own
        progress, which a late commit of ours would only move back. Synchronous, bounded by
        the socket timeout; raises `KafkaException` when the broker did not take it."""
        if (record.topic, record.partition) not in self._owned:
            log.info(
                "not committing for a partition no longer ours",
                extra={"topic": record.topic, "partition": record.partition},
            )
            return
        committed = self._consumer.commit(
            offsets=[TopicPartition(record.topic, record.partition, record.offset + 1)],
            asynchronous=False,
        )
        for tp in committed or ():
            if tp.error is not None:
                raise confluent_kafka.KafkaException(tp.error)

    def rewind(self, record: IncomingRecord) -> None:
        """Deliver `record` again on the next poll."""
        self._consumer.seek(TopicPartition(record.topic, record.partition, record.offset))

    def idle(self, seconds: float) -> None:
        """Stay in the group for `seconds` without taking records (a paused consumer must
        keep polling, or the group would think it stuck); whatever arrives is delivered again
        (a rebalance during the wait assigns partitions unpaused)."""
        paused = self._consumer.assignment()
        self._consumer.pause(paused)
        try:
            first: dict[tuple[str, int], int] = {}
            for m in self._consumer.consume(self._max_poll_records, seconds):
                if m.error() is None:
                    first.setdefault((m.topic(), m.partition()), m.offset())  # type: ignore[arg-type]
            for (topic, partition), offset in first.items():
                self._consumer.seek(TopicPartition(topic, partition, offset))
        finally:
            # Even when the wait fails: a partition left paused would never be consumed again.
            # Those paused here, whether still ours or not (a rebalance during the wait may
            # have taken them; librdkafka would keep them paused until they come back).
            self._consumer.resume(paused + self._consumer.assignment())

    def lag(self) -> dict[tuple[str, int], int]:
        """Records behind the log end, per owned partition; from what the last fetches said
        (no request to the broker), so partitions not fetched yet are left out."""
        lags = {}
        for tp in self._consumer.position(self._consumer.assignment()):
            if tp.offset < 0:  # nothing consumed yet: no position
                continue
            _low, high = self._consumer.get_watermark_offsets(tp, cached=True)
            if high is not None and high >= 0:
                lags[(tp.topic, tp.partition)] = max(high - tp.offset, 0)
        return lags

    def close(self) -> None:
        """Leave the group, so its partitions move to another member at once (bounded by the
        socket timeout, so a shutdown during a broker outage does not hang)."""
        self._consumer.close()
