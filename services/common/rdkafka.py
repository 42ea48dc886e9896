"""The platform's producer, on librdkafka (why: `kafka.py`'s docstring and `docs/ingest.md`),
known to the services as `kafka.KafkaPublisher`: the outbox relays, the dead-letter sinks,
the gateway's bulk ingestion and the operators' replay all publish through it."""

import logging
import threading
import time
from collections.abc import Sequence

import confluent_kafka

from services.common.kafka_records import OutgoingRecord, PublishFailed, librdkafka_reconnect
from services.common.librdkafka_log import librdkafka_log

log = logging.getLogger(__name__)


def rdkafka_producer_config(
    bootstrap_servers: str, *, client_id: str, timeout_seconds: float = 10
) -> dict[str, object]:
    """`RdKafkaPublisher`'s librdkafka configuration (the ingest benchmark's raw librdkafka
    baseline uses it too)."""
    return {
        "bootstrap.servers": bootstrap_servers,
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": True,
        # librdkafka's default, said out loud: a batch is awaited whole anyway; a longer wait
        # only adds latency, a shorter one spends CPU on smaller requests (linger 0: +50 %).
        "linger.ms": 5,
        # murmur2 of the key, as Java clients and kafka-python place keys (librdkafka's default
        # is CRC32): a group's events keep one partition whichever client produced them.
        "partitioner": "murmur2_random",
        # A record not acknowledged by then fails, so `publish` is bounded.
        "message.timeout.ms": int(timeout_seconds * 1000),
        **librdkafka_reconnect(),
    }


class RdKafkaPublisher:
    """Idempotent librdkafka producer with `acks=all`: a batch either is acknowledged whole
    or raises `PublishFailed`, at a tenth of kafka-python's CPU per record. Safe to share
    between threads: each `publish` waits for its own records' acknowledgements only, not for
    other threads' (a `flush` would wait for every record in flight, and under steady load
    from several threads might never end)."""

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
        self._producer = confluent_kafka.Producer(
            rdkafka_producer_config(
                bootstrap_servers, client_id=client_id, timeout_seconds=timeout_seconds
            )
            | {"logger": librdkafka_log}
        )

    def publish(self, records: Sequence[OutgoingRecord]) -> None:
        if not records:
            return
        waiting = _Acknowledgements(len(records))
        deadline = time.monotonic() + self._timeout
        produce, prefix = self._producer.produce, self._prefix
        try:
            for r in records:
                while True:
                    try:
                        produce(
                            prefix + r.topic,
                            r.value,
                            r.key,
                            # `list` is invariant: ours holds bytes values, theirs may hold
                            # str or None too; librdkafka only reads it.
                            headers=r.headers,  # type: ignore[arg-type]
                            on_delivery=waiting.delivered,
                        )
                        break
                    except BufferError:  # the local queue is full: let some go first
                        if time.monotonic() > deadline:
                            raise PublishFailed("the producer's queue stayed full") from None
                        self._producer.poll(0.01)
            # Any thread's poll may serve any record's callback; each waits for its own.
            while not waiting.done.is_set():
                if time.monotonic() > deadline:
                    raise PublishFailed(f"{waiting.left} records not acknowledged in time")
                self._producer.poll(0.005)
        except confluent_kafka.KafkaException as exc:
            raise PublishFailed(str(exc)) from exc
        if waiting.failures:
            raise PublishFailed(f"{len(waiting.failures)} records failed: {waiting.failures[0]}")

    def close(self) -> None:
        # Short: every batch was awaited by `publish`; what is still queued belongs to a failed
        # batch, which its caller will send again, and a producer closed after a failure is
        # being abandoned: waiting on it would only delay its replacement.
        try:
            self._producer.purge()
            self._producer.flush(0)
            self._producer.close()
        except (confluent_kafka.KafkaException, RuntimeError):
            log.warning("producer did not close cleanly", exc_info=True)


class _Acknowledgements:
    """The outcome of one batch's records, filled in by librdkafka's delivery callbacks."""

    def __init__(self, count: int):
        self.left = count
        self.failures: list[str] = []
        self.done = threading.Event()
        # Two threads polling at once may run two of this batch's callbacks at once.
        self._lock = threading.Lock()

    def delivered(self, error: confluent_kafka.KafkaError | None, _message: object) -> None:
        with self._lock:
            if error is not None:
                self.failures.append(error.str())
            self.left -= 1
            if self.left == 0:
                self.done.set()
