"""What the batch consumer's polling thread makes of a poll before a batch goes to the worker
thread (`services.common.batches`): the poll cut into batches (`cut_poll`), each read into
events without side effects (`read_batch`), so that a batch read while the previous one is in
flight can be thrown away and polled again if that one fails."""

import collections
from collections.abc import Container, Sequence
from dataclasses import dataclass, field

from services.common.batch_folds import PreparedRuns
from services.common.cloudevents import CloudEvent, MalformedEvent
from services.common.kafka import IncomingRecord


@dataclass
class ReadBatch:
    """A batch read: its events for handlers, the records that are not CloudEvents, the
    records no handler wants, counted by (topic, type, "ignored"), and what its two-step folds
    prepared (`batch_folds.prepare_runs`)."""

    events: list[tuple[IncomingRecord, CloudEvent]] = field(default_factory=list)
    malformed: list[tuple[IncomingRecord, MalformedEvent]] = field(default_factory=list)
    ignored: collections.Counter[tuple[str, str, str]] = field(default_factory=collections.Counter)
    prepared: PreparedRuns = field(default_factory=dict)


def cut_poll(
    records: list[IncomingRecord], *, max_events: int, max_bytes: int
) -> list[tuple[int, list[IncomingRecord]]]:
    """The poll cut into batches of at most `max_events` records and (unless one record alone
    is larger) `max_bytes`, each with the index of its first record."""
    cuts: list[tuple[int, list[IncomingRecord]]] = []
    batch: list[IncomingRecord] = []
    size, start = 0, 0
    for n, record in enumerate(records):
        length = len(record.value or b"")
        if batch and (len(batch) >= max_events or size + length > max_bytes):
            cuts.append((start, batch))
            batch, size, start = [], 0, n
        batch.append(record)
        size += length
    if batch:
        cuts.append((start, batch))
    return cuts


def read_batch(records: Sequence[IncomingRecord], handled: Container[str]) -> ReadBatch:
    """The batch's events of the `handled` types; the rest set aside or counted."""
    read = ReadBatch()
    from_kafka = CloudEvent.from_kafka
    for record in records:
        try:
            event = from_kafka(record.headers, record.value)
        except MalformedEvent as exc:
            read.malformed.append((record, exc))
            continue
        if event.type not in handled:
            read.ignored[(record.topic, event.type, "ignored")] += 1
            continue
        read.events.append((record, event))
    return read
