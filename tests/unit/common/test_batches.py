"""How the batch mode cuts a poll into batches."""

from prometheus_client import REGISTRY

from services.common.batch_reading import cut_poll
from services.common.batches import BatchConsumer
from services.common.cloudevents import CloudEvent
from services.common.kafka import IncomingRecord


def test_batches_are_cut_by_count_and_bytes() -> None:
    records = [
        IncomingRecord("t", 0, n, None, b"x" * size, []) for n, size in enumerate([10] * 7 + [91])
    ]
    cuts = cut_poll(records, max_events=3, max_bytes=100)
    assert [(start, [r.offset for r in batch]) for start, batch in cuts] == [
        (0, [0, 1, 2]),
        (3, [3, 4, 5]),
        (6, [6]),
        (7, [7]),
    ]


def test_records_no_handler_wants_are_counted_as_ignored_by_type_a_batch_at_a_time() -> None:
    consumer = BatchConsumer(
        None,  # type: ignore[arg-type]  # nothing here is handled, so no database
        name="t",
        handlers={},
        batch_handlers={},
        dead_letters=None,  # type: ignore[arg-type]
    )

    def ignored(event_type: str) -> float:
        labels = {"topic": "t.ignored", "type": event_type, "outcome": "ignored"}
        return REGISTRY.get_sample_value("qunyun_consumer_events_total", labels) or 0.0

    before = {t: ignored(t) for t in ("io.qunyun.test.a.v1", "io.qunyun.test.b.v1")}
    records = []
    for n, event_type in enumerate(["io.qunyun.test.a.v1"] * 3 + ["io.qunyun.test.b.v1"]):
        event = CloudEvent(type=event_type, source="/t", workspaceid="ws", data={})
        records.append(
            IncomingRecord("t.ignored", 0, n, None, event.kafka_value(), event.kafka_headers())
        )
    consumer.handle_batch(records)
    assert ignored("io.qunyun.test.a.v1") - before["io.qunyun.test.a.v1"] == 3
    assert ignored("io.qunyun.test.b.v1") - before["io.qunyun.test.b.v1"] == 1
