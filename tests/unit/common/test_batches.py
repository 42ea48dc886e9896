"""How the batch mode cuts a poll into batches."""

from services.common.batches import BatchConsumer
from services.common.kafka import IncomingRecord


def test_batches_are_cut_by_count_and_bytes() -> None:
    consumer = BatchConsumer(
        None,  # type: ignore[arg-type]  # cutting touches no database
        name="t",
        handlers={},
        batch_handlers={},
        dead_letters=None,  # type: ignore[arg-type]
        batch_max_events=3,
        batch_max_bytes=100,
    )
    records = [
        IncomingRecord("t", 0, n, None, b"x" * size, []) for n, size in enumerate([10] * 7 + [91])
    ]
    cuts = consumer._batches(records)
    assert [(start, [r.offset for r in batch]) for start, batch in cuts] == [
        (0, [0, 1, 2]),
        (3, [3, 4, 5]),
        (6, [6]),
        (7, [7]),
    ]
