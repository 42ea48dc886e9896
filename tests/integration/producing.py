"""One Kafka producer for the whole session's test events, each test publishing through it to
its own topics (its prefix).

A producer per test cost each publishing test half a second: an idempotent librdkafka producer
asks the broker for its producer id half a second after it is made (no broker is connected yet
when it first tries), and its first publish waits for that. The services' own producers (relay,
dead letters) stay their own; this one stands only for the tests' "another service published"."""

from collections.abc import Sequence
from dataclasses import replace

from services.common.kafka import KafkaPublisher, OutgoingRecord

_producers: dict[str, KafkaPublisher] = {}


class PrefixedPublisher:
    """Publishes to one test's topics through the session's producer for `bootstrap`."""

    def __init__(self, bootstrap: str, prefix: str):
        if bootstrap not in _producers:
            _producers[bootstrap] = KafkaPublisher(bootstrap, client_id="test")
        self._producer = _producers[bootstrap]
        self._prefix = prefix

    def publish(self, records: Sequence[OutgoingRecord]) -> None:
        self._producer.publish([replace(r, topic=self._prefix + r.topic) for r in records])

    def close(self) -> None:
        """Nothing of the test's own: the producer lasts the session (see `close_all`)."""


def close_all() -> None:
    while _producers:
        _producers.popitem()[1].close()
