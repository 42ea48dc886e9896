"""An outage pauses the consumer; it never dead-letters a healthy event."""

import threading

import sqlalchemy as sa
from sqlmodel import Session

from deploy.local.processes import free_port
from services.common.cloudevents import CloudEvent
from services.common.consumer import CONSUMER_PAUSED, ConsumerStatus, EventConsumer
from services.common.kafka import IncomingRecord, OutgoingRecord

EVENT_TYPE = "io.qunyun.community.created.v1"


def _record(partition: int, offset: int) -> IncomingRecord:
    event = CloudEvent(type=EVENT_TYPE, source="/t", workspaceid="ws", data={"n": offset})
    return IncomingRecord(
        "t.v1", partition, offset, b"k", event.kafka_value(), event.kafka_headers()
    )


class _Source:
    """One poll's records on two partitions, then nothing; stops the consumer after a few
    idle rounds."""

    def __init__(self, records: list[IncomingRecord], stop: threading.Event):
        self.records, self.stop = records, stop
        self.rewound: list[tuple[int, int]] = []
        self.committed: list[tuple[int, int]] = []
        self.idled = 0

    def poll(self, timeout_seconds: float) -> list[IncomingRecord]:
        records, self.records = self.records, []
        return records

    def commit(self, record: IncomingRecord) -> None:
        self.committed.append((record.partition, record.offset))

    def rewind(self, record: IncomingRecord) -> None:
        self.rewound.append((record.partition, record.offset))

    def idle(self, seconds: float) -> None:
        self.idled += 1
        if self.idled == 3:
            self.stop.set()

    def lag(self) -> dict[tuple[str, int], int]:
        return {}

    def close(self) -> None:
        pass


class _Sink:
    def __init__(self) -> None:
        self.published: list[OutgoingRecord] = []

    def publish(self, records: list[OutgoingRecord]) -> None:
        self.published.extend(records)


def _fails(session: Session, event: CloudEvent) -> None:
    raise AssertionError("the handler cannot run without a database")


def test_with_the_database_down_the_consumer_pauses_and_dead_letters_nothing() -> None:
    engine = sa.create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none",
        connect_args={"connect_timeout": 1},
    )
    stop = threading.Event()
    # Partition 0 fails first; partition 1's record came in the same poll and was not handled.
    source = _Source([_record(0, 7), _record(1, 3), _record(0, 8)], stop)
    sink = _Sink()
    status = ConsumerStatus()
    consumer = EventConsumer(
        engine,
        name="unit",
        handlers={EVENT_TYPE: _fails},
        dead_letters=sink,
        max_attempts=2,
        backoff_seconds=0.01,
        backoff_max_seconds=0.02,
        status=status,
    )
    consumer.run(source, stop, poll_seconds=0.01)

    assert sink.published == []
    assert source.committed == []
    # Both partitions go back to their first unhandled record, not only the failing one.
    assert sorted(source.rewound) == [(0, 7), (1, 3)]
    assert source.idled == 3
    assert status.trouble is not None and status.trouble.startswith(
        "paused: database unreachable"
    )
    assert CONSUMER_PAUSED.labels("unit")._value.get() == 1
