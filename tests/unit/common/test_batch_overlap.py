"""The batch consumer's overlap: a batch's transaction runs in a worker thread while the next
batch is polled and parsed, yet offsets are committed in order, each after its batch, a failed
batch is delivered again with everything polled after it, and stopping drains the batch in
flight."""

import threading
from typing import Any

import pytest

from services.common import consumer as consumer_module
from services.common.batches import BatchConsumer
from services.common.cloudevents import CloudEvent
from services.common.consumer import DependencyDown
from services.common.kafka import IncomingRecord

EVENT_TYPE = "io.qunyun.test.overlap.v1"


def _record(offset: int, partition: int = 0) -> IncomingRecord:
    event = CloudEvent(type=EVENT_TYPE, source="/t", workspaceid="ws", data={"n": offset})
    return IncomingRecord("t", partition, offset, None, event.kafka_value(), event.kafka_headers())


class _Source:
    """Polls hand out `polls` in turn (a rewind makes the source deliver from that offset
    again, as Kafka does); every call is written to `log`."""

    def __init__(self, polls: list[list[IncomingRecord]], stop: threading.Event):
        self.polls, self.stop = polls, stop
        self.log: list[tuple[str, Any]] = []
        self.closed = False

    def poll(self, timeout_seconds: float) -> list[IncomingRecord]:
        if not self.polls:
            self.stop.set()
            return []
        records = self.polls.pop(0)
        self.log.append(("poll", [r.offset for r in records]))
        return records

    def commit(self, record: IncomingRecord) -> None:
        self.log.append(("commit", (record.partition, record.offset)))

    def rewind(self, record: IncomingRecord) -> None:
        self.log.append(("rewind", (record.partition, record.offset)))

    def idle(self, seconds: float) -> None:
        pass

    def lag(self) -> dict[tuple[str, int], int]:
        return {}

    def close(self) -> None:
        self.closed = True


class _Consumer(BatchConsumer):
    """Settles batches without a database, logging each to the source's log; fails the
    batches whose first offset is in `failing` (once each)."""

    def __init__(self, source: _Source, failing: set[int] | None = None):
        super().__init__(
            None,  # type: ignore[arg-type]  # `_settle` below touches no database
            name="overlap",
            handlers={},
            batch_handlers={EVENT_TYPE: lambda session, events: None},
            dead_letters=None,
            batch_max_events=2,
            backoff_max_seconds=0.0,
        )
        self.source, self.failing = source, failing or set()
        self.threads: set[str] = set()

    def _settle(self, parsed: Any, stop: threading.Event | None) -> None:
        offsets = [record.offset for record, _ in parsed.events]
        self.threads.add(threading.current_thread().name)
        self.source.log.append(("settle", offsets))
        if offsets[0] in self.failing:
            self.failing.discard(offsets[0])
            raise RuntimeError("this batch fails once")
        self.source.log.append(("settled", offsets))


def test_each_batch_commits_after_its_transaction_and_before_the_next_starts() -> None:
    stop = threading.Event()
    source = _Source([[_record(n) for n in range(5)], [_record(5), _record(6)]], stop)
    consumer = _Consumer(source)
    consumer.run_batches(source, stop)
    steps = [s for s in source.log if s[0] != "poll"]
    assert steps == [
        ("settle", [0, 1]),
        ("settled", [0, 1]),
        ("commit", (0, 1)),
        ("settle", [2, 3]),
        ("settled", [2, 3]),
        ("commit", (0, 3)),
        ("settle", [4]),
        ("settled", [4]),
        ("commit", (0, 4)),
        ("settle", [5, 6]),
        ("settled", [5, 6]),
        ("commit", (0, 6)),  # the last batch landed as the consumer stopped
    ]
    assert source.closed
    assert consumer.threads == {"overlap-fold_0"}  # transactions run in the worker thread


def test_a_failed_batch_is_delivered_again_with_what_was_polled_after_it() -> None:
    stop = threading.Event()
    first = [_record(n, partition=n % 2) for n in range(6)]
    again = first[2:]  # what Kafka delivers after the rewinds
    source = _Source([first, again], stop)
    consumer = _Consumer(source, failing={2})
    consumer.run_batches(source, stop)
    commits = [s[1] for s in source.log if s[0] == "commit"]
    rewinds = [s[1] for s in source.log if s[0] == "rewind"]
    # Batch [2, 3] failed while [4, 5] was parsed: each partition goes back to its first
    # record not committed, and [4, 5] is not settled before [2, 3] has been.
    assert rewinds == [(0, 2), (1, 3)]
    settled = [s[1] for s in source.log if s[0] == "settled"]
    assert settled == [[0, 1], [2, 3], [4, 5]]
    assert commits == [(0, 0), (1, 1), (0, 2), (1, 3), (0, 4), (1, 5)]


def test_an_outage_in_flight_pauses_and_the_batch_with_what_followed_comes_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stop = threading.Event()
    first = [_record(n) for n in range(4)]
    source = _Source([first, first[0:]], stop)
    consumer = _Consumer(source)
    idled: list[str | None] = []
    source.idle = lambda seconds: idled.append(consumer.status.trouble)  # type: ignore[method-assign]
    monkeypatch.setattr(consumer_module, "database_down", lambda engine: None)  # back at once
    settle = consumer._settle
    down = [True]

    def failing_once(parsed: Any, stop: threading.Event | None) -> None:
        if down[0]:
            down[0] = False
            raise DependencyDown("database unreachable")
        settle(parsed, stop)

    consumer._settle = failing_once  # type: ignore[method-assign]
    consumer.run_batches(source, stop)
    assert idled == ["paused: database unreachable"]  # it waited, paused, in the group
    assert [s[1] for s in source.log if s[0] == "rewind"] == [(0, 0)]
    assert [s[1] for s in source.log if s[0] == "settled"] == [[0, 1], [2, 3]]
    assert [s[1] for s in source.log if s[0] == "commit"] == [(0, 1), (0, 3)]
    assert consumer.status.trouble is None  # working again
