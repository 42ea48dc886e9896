"""The producer's partitioner remembers key hashes, and places every key where kafka-python's
(and Java's) default partitioner does: the signed single pushes (through the outbox relay) and
bulk batches of one group must share a partition to keep their order."""

from hypothesis import given
from hypothesis import strategies as st
from kafka.partitioner.default import DefaultPartitioner

from services.common.kafka import _KeyedPartitioner


class _Cluster:
    def __init__(self, partitions: int):
        self.partitions = set(range(partitions))

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions


@given(keys=st.lists(st.binary(min_size=1, max_size=80), min_size=1), partitions=st.integers(1, 12))
def test_every_key_lands_where_the_default_partitioner_puts_it(
    keys: list[bytes], partitions: int
) -> None:
    cluster, remembering, default = _Cluster(partitions), _KeyedPartitioner(), DefaultPartitioner()
    for key in keys + keys:  # the second time from memory
        expected = default.partition("t", None, key, None, None, cluster)
        assert remembering.partition("t", None, key, None, None, cluster) == expected
