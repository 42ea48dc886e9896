"""What the platform's Kafka clients hand to and take from the rest of the kit: the records,
the failure of a publish, the errors that mean the broker is away, and the connection
settings every client shares. Apart from `kafka.py` so that the clients (`rdkafka.py`,
`event_source.py`) and the face that names them (`kafka.py`) need not import one another."""

from dataclasses import dataclass

import confluent_kafka
from kafka.errors import KafkaError


class PublishFailed(Exception):
    """The broker did not acknowledge every record of a batch."""


# What the clients raise when the broker is unreachable (and our wrapper of it): callers
# classify outages with this instead of importing a Kafka client themselves. librdkafka's
# (`KafkaException`) for the producer and the consumer; kafka-python's for the admin calls
# (`ensure_topics`, `read_since`) that still use it.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    KafkaError,
    confluent_kafka.KafkaException,
    PublishFailed,
)

# Clients back off reconnects for long by default (kafka-python up to 30 s, librdkafka 10 s):
# after a broker restart a client would sit idle that long. One second finds a returning
# broker almost at once. And a partition whose leader changed (a restarted broker bumps the
# leader epoch) can stall until the next metadata refresh, 5 min by default: refresh every
# 5 s instead (a tiny request). kafka-python's names; `librdkafka_reconnect` translates.
RECONNECT = {
    "reconnect_backoff_ms": 100,
    "reconnect_backoff_max_ms": 1000,
    "metadata_max_age_ms": 5000,
}


def librdkafka_reconnect() -> dict[str, object]:
    """`RECONNECT` in librdkafka's names."""
    return {
        "reconnect.backoff.ms": RECONNECT["reconnect_backoff_ms"],
        "reconnect.backoff.max.ms": RECONNECT["reconnect_backoff_max_ms"],
        "topic.metadata.refresh.interval.ms": RECONNECT["metadata_max_age_ms"],
    }


# Slots: a frozen dataclass sets each field through `object.__setattr__`, which with a
# `__dict__` to fill cost 1 µs more a record; bulk ingestion makes 20,000 a second.
@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    topic: str
    key: str
    value: bytes
    headers: list[tuple[str, bytes]]


# Slots, for the same reason: a consumer builds one for every record it reads.
@dataclass(frozen=True, slots=True)
class IncomingRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp_ms: int | None = None
