"""The ingest benchmark's baselines: the raw producers, in the bench's own process, sending the
records the gateway makes of the same messages (same key, value, CloudEvents headers),
waiting for every acknowledgement once per `per` records, the guarantee a 202 gives."""

import time
from datetime import UTC, datetime

import confluent_kafka
import orjson
from kafka import KafkaProducer

from gateway.ingest.fingerprints import event_ids, identity
from gateway.ingest.models import MessageIn
from gateway.ingest.publishing import Envelope
from services.common.kafka import PRODUCER_SETTINGS, OutgoingRecord
from services.common.rdkafka import rdkafka_producer_config


def records(workspace_id: str, messages: list[dict[str, object]]) -> list[OutgoingRecord]:
    """The records the gateway makes of these messages."""
    envelope = Envelope(workspace_id=workspace_id, source="/bench", now=datetime.now(UTC))
    items = [MessageIn.model_validate_json(orjson.dumps(m)) for m in messages]
    ids = event_ids(
        [identity(workspace_id, m.platform, "message", m.message_external_id) for m in items]
    )
    return envelope.records([(MessageIn, m.__dict__) for m in items], ids)


def kafka_python_rate(
    bootstrap: str, topic: str, records: list[OutgoingRecord], *, per: int
) -> tuple[float, float]:
    """kafka-python alone, configured as the platform's `KafkaPublisher` (`PRODUCER_SETTINGS`:
    acks=all, idempotent, linger 5 ms, 256 KiB batches), waiting for every ack once per `per`
    records: records a second, and CPU seconds (all its threads) per record."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_SETTINGS)
    producer.send(topic, value=b"warm", key=b"warm").get(timeout=30)
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(records), per):
        futures = [
            producer.send(topic, value=r.value, key=r.key.encode(), headers=r.headers)
            for r in records[start : start + per]
        ]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    producer.close()
    return len(records) / elapsed, cpu / len(records)


def librdkafka_rate(
    bootstrap: str, topic: str, records: list[OutgoingRecord], *, per: int
) -> tuple[float, float]:
    """librdkafka (confluent-kafka) alone, configured as the gateway's ingest producer
    (`rdkafka_producer_config`: acks=all, idempotent, linger 5 ms, murmur2 keys), waiting for
    every ack once per `per` records (a delivery callback a record, as the gateway's)."""
    producer = confluent_kafka.Producer(rdkafka_producer_config(bootstrap, client_id="bench-raw"))
    producer.produce(topic, b"warm", b"warm")
    producer.flush(30)
    failed: list[object] = []

    def delivered(error: object, _message: object) -> None:
        if error is not None:
            failed.append(error)

    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(records), per):
        for r in records[start : start + per]:
            producer.produce(topic, r.value, r.key, headers=r.headers, on_delivery=delivered)  # type: ignore[arg-type]
        if producer.flush(30) or failed:
            raise RuntimeError(f"librdkafka did not deliver: {failed[:1]}")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    producer.close()
    return len(records) / elapsed, cpu / len(records)
