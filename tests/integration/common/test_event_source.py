"""`KafkaEventSource` on librdkafka against the real broker: what its callers rely on beyond
the consumers' own tests (group membership, commits, topics that appear late)."""

import time
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from services.common.kafka import (
    IncomingRecord,
    KafkaEventSource,
    KafkaPublisher,
    OutgoingRecord,
    ensure_topics,
)

pytestmark = pytest.mark.integration


def _send(bootstrap: str, topic: str, keys: list[str]) -> None:
    publisher = KafkaPublisher(bootstrap, client_id="test")
    try:
        publisher.publish(
            [OutgoingRecord(topic, k, f"v{n}".encode(), [("h", b"x")]) for n, k in enumerate(keys)]
        )
    finally:
        publisher.close()


def _poll_until(
    source: KafkaEventSource, count: int, *, timeout: float = 30
) -> list[IncomingRecord]:
    records: list[IncomingRecord] = []
    deadline = time.monotonic() + timeout
    while len(records) < count and time.monotonic() < deadline:
        records += source.poll(0.5)
    return records


def _committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        return {tp.partition: tp.offset for tp in reader.committed(tps, timeout=10)}
    finally:
        reader.close()


def test_records_arrive_with_headers_and_commits_land(kafka_bootstrap: str) -> None:
    topic, group = f"t_src_{uuid.uuid4().hex[:8]}", f"g_{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [topic], partitions=1)
    _send(kafka_bootstrap, topic, ["k"] * 5)
    source = KafkaEventSource(kafka_bootstrap, group_id=group, topics=[topic], client_id="t")
    try:
        records = _poll_until(source, 5)
        assert [(r.offset, r.key, r.value, r.headers) for r in records] == [
            (n, b"k", f"v{n}".encode(), [("h", b"x")]) for n in range(5)
        ]
        source.commit(records[2])
    finally:
        source.close()

    assert _committed(kafka_bootstrap, group, topic, 1) == {0: 3}


def test_a_topic_created_after_joining_is_consumed(kafka_bootstrap: str) -> None:
    """kafka-python's member that joined before a topic existed sat idle; librdkafka must
    notice the topic at a metadata refresh and rejoin."""
    topic = f"t_late_{uuid.uuid4().hex[:8]}"
    source = KafkaEventSource(
        kafka_bootstrap,
        group_id=f"g_{uuid.uuid4().hex[:8]}",
        topics=[topic],
        client_id="t",
        metadata_timeout_seconds=0.5,
    )
    try:
        assert source.poll(0.5) == []
        ensure_topics(kafka_bootstrap, [topic], partitions=1)
        _send(kafka_bootstrap, topic, ["k"])
        assert [r.value for r in _poll_until(source, 1)] == [b"v0"]
    finally:
        source.close()


def test_a_rewound_record_comes_again_after_an_idle_wait(kafka_bootstrap: str) -> None:
    topic = f"t_idle_{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [topic], partitions=1)
    _send(kafka_bootstrap, topic, ["k"] * 6)
    source = KafkaEventSource(
        kafka_bootstrap, group_id=f"g_{uuid.uuid4().hex[:8]}", topics=[topic], client_id="t"
    )
    try:
        records = _poll_until(source, 6)
        source.rewind(records[2])
        source.idle(0.5)  # paused: nothing is taken, and the rewind stands
        assert [r.offset for r in _poll_until(source, 4)] == [2, 3, 4, 5]
    finally:
        source.close()


def test_no_commit_for_a_partition_that_moved_to_another_member(kafka_bootstrap: str) -> None:
    """Records polled before a rebalance gave their partition away are not committed: the
    new owner reads them again from the offset committed before (duplicates, which consumers
    skip), and a late commit of ours could only move its progress back."""
    topic, group = f"t_moved_{uuid.uuid4().hex[:8]}", f"g_{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [topic], partitions=2)
    _send(kafka_bootstrap, topic, [f"k{n}" for n in range(40)])
    first = KafkaEventSource(kafka_bootstrap, group_id=group, topics=[topic], client_id="a")
    second = None
    try:
        polled = _poll_until(first, 40)
        assert {r.partition for r in polled} == {0, 1}
        second = KafkaEventSource(kafka_bootstrap, group_id=group, topics=[topic], client_id="b")
        # Both poll until the group has given each one partition.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(first._consumer.assignment()) != 1:
            first.poll(0.2)
            second.poll(0.2)
        kept = {tp.partition for tp in first._consumer.assignment()}
        assert len(kept) == 1
        for record in polled:
            first.commit(record)
    finally:
        first.close()
        if second is not None:
            second.close()

    committed = _committed(kafka_bootstrap, group, topic, 2)
    last = {r.partition: r.offset + 1 for r in polled}
    (mine,) = kept
    (theirs,) = {0, 1} - kept
    assert committed[mine] == last[mine]
    assert committed[theirs] < 0  # nothing committed: the other member starts from the start


def test_a_partition_paused_when_a_rebalance_took_it_is_fetched_when_it_comes_back(
    kafka_bootstrap: str,
) -> None:
    """librdkafka keeps a partition's pause across a rebalance: a member paused by `idle`
    (riding out an outage) whose partitions a rebalance revoked and gave back in a later
    poll never fetched them again (the broker-restart drill caught metrics doing that)."""
    topic, group = f"t_pause_{uuid.uuid4().hex[:8]}", f"g_{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [topic], partitions=1)
    _send(kafka_bootstrap, topic, ["k"] * 3)
    first = KafkaEventSource(kafka_bootstrap, group_id=group, topics=[topic], client_id="a")
    second = None
    try:
        assert len(_poll_until(first, 3)) == 3
        first._consumer.pause(first._consumer.assignment())  # as `idle` does
        second = KafkaEventSource(kafka_bootstrap, group_id=group, topics=[topic], client_id="b")
        deadline = time.monotonic() + 30
        rebalanced = False
        while time.monotonic() < deadline and not rebalanced:
            first.poll(0.3)
            second.poll(0.3)
            rebalanced = first.rebalances > 1
        assert rebalanced
        second.close()
        second = None
        _send(kafka_bootstrap, topic, ["k"] * 2)
        # Whichever member had it meanwhile, the partition is the first's again, and fetched.
        assert len(_poll_until(first, 5, timeout=40)) >= 2
    finally:
        first.close()
        if second is not None:
            second.close()


def test_a_poll_returns_as_soon_as_a_record_arrives_not_when_its_batch_is_full(
    kafka_bootstrap: str,
) -> None:
    """librdkafka's `consume(n, timeout)` waits for n records or the whole timeout; a poll
    that waited so made every event of a quiet group wait out the timeout."""
    topic, group = f"t_prompt_{uuid.uuid4().hex[:8]}", f"g_{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [topic], partitions=1)
    source = KafkaEventSource(
        kafka_bootstrap, group_id=group, topics=[topic], client_id="t", max_poll_records=500
    )
    try:
        _send(kafka_bootstrap, topic, ["warm"])
        assert len(_poll_until(source, 1)) == 1  # the group is joined, the partition fetched
        _send(kafka_bootstrap, topic, ["k", "k"])
        started = time.monotonic()
        records = source.poll(20)
        waited = time.monotonic() - started
        assert [r.offset for r in records] in ([1, 2], [1])
        assert waited < 10, f"the poll waited {waited:.1f} s of its 20 for a batch of 500"
    finally:
        source.close()
