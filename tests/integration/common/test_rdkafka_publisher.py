"""The librdkafka publisher keeps the kit's publisher promise: a batch is acknowledged whole
or raises, records arrive as sent, and a key lands where kafka-python would put it."""

import threading
import time
import uuid

import pytest
from kafka import KafkaProducer

from services.common.kafka import (
    KafkaPublisher,
    OutgoingRecord,
    PublishFailed,
    ensure_topics,
    read_since,
)
from services.common.rdkafka import RdKafkaPublisher

pytestmark = pytest.mark.integration


def _topic(kafka_bootstrap: str) -> str:
    name = f"t_rd_{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [name], partitions=3)
    return name


def _record(topic: str, key: str, n: int) -> OutgoingRecord:
    return OutgoingRecord(
        topic=topic,
        key=key,
        value=f'{{"n": {n}, "text": "第{n}条"}}'.encode(),
        headers=[("ce_id", f"evt_{n}".encode()), ("ce_type", b"io.qunyun.test.v1")],
    )


def test_a_batch_arrives_whole_with_its_keys_values_and_headers(kafka_bootstrap: str) -> None:
    topic = _topic(kafka_bootstrap)
    since = int(time.time() * 1000) - 1000
    sent = [_record(topic, f"wechat:g{n % 7}", n) for n in range(300)]
    publisher = RdKafkaPublisher(kafka_bootstrap, client_id="test-rd")
    try:
        publisher.publish(sent)
    finally:
        publisher.close()

    got = list(read_since(kafka_bootstrap, topic, since_ms=since))

    assert sorted((r.key, r.value, r.headers) for r in got) == sorted(
        (s.key.encode(), s.value, s.headers) for s in sent
    )
    # Per key, in the order sent.
    for key in {s.key for s in sent}:
        mine = [r for r in got if r.key == key.encode()]
        assert [r.value for r in sorted(mine, key=lambda r: r.offset)] == [
            s.value for s in sent if s.key == key
        ]


def test_a_key_lands_on_the_partition_kafka_python_chooses(kafka_bootstrap: str) -> None:
    """The kit produced a group's events through kafka-python before librdkafka: during a
    rolling deploy both run at once and must place a group on one partition, or its messages
    could be consumed out of order (and Java clients place keys as kafka-python does)."""
    topic = _topic(kafka_bootstrap)
    since = int(time.time() * 1000) - 1000
    keys = [f"wechat:g{n}@chatroom" for n in range(40)]
    rd = KafkaPublisher(kafka_bootstrap, client_id="test-rd")
    kp = KafkaProducer(bootstrap_servers=kafka_bootstrap)  # murmur2 of the key, by default
    try:
        rd.publish([_record(topic, k, 0) for k in keys])
        for k in keys:
            kp.send(topic, key=k.encode(), value=b"1")
        kp.flush(timeout=20)
    finally:
        rd.close()
        kp.close()

    placed: dict[bytes | None, set[int]] = {}
    for r in read_since(kafka_bootstrap, topic, since_ms=since):
        placed.setdefault(r.key, set()).add(r.partition)

    assert len(placed) == len(keys)
    assert all(len(partitions) == 1 for partitions in placed.values())
    assert len(set().union(*placed.values())) > 1  # the keys do spread


def test_batches_from_several_threads_each_wait_for_their_own(kafka_bootstrap: str) -> None:
    topic = _topic(kafka_bootstrap)
    since = int(time.time() * 1000) - 1000
    publisher = RdKafkaPublisher(kafka_bootstrap, client_id="test-rd")
    failures: list[BaseException] = []

    def send(thread: int) -> None:
        try:
            for batch in range(5):
                publisher.publish(
                    [_record(topic, f"k{n}", thread * 10_000 + batch * 100 + n) for n in range(100)]
                )
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=send, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    publisher.close()

    assert failures == []
    assert len(list(read_since(kafka_bootstrap, topic, since_ms=since))) == 4 * 5 * 100


def test_an_unreachable_broker_fails_the_batch_within_its_timeout() -> None:
    publisher = RdKafkaPublisher("127.0.0.1:1", client_id="nowhere", timeout_seconds=1)
    started = time.monotonic()
    try:
        with pytest.raises(PublishFailed):
            publisher.publish([_record("t_nowhere", "k", 1)])
    finally:
        publisher.close()

    assert time.monotonic() - started < 5
