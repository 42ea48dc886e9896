"""What the batch consumer (`services.common.batches`) hands batches to: a batch handler,
`BatchHandler`, which does its work in the batch's transaction, or a fold in two steps,
`BatchFold`, whose work outside the database is done before the transaction, while the
previous batch's is in flight (`prepare_runs`)."""

import functools
import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from prometheus_client import Counter
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.consumer import Handler

log = logging.getLogger(__name__)

BATCH_UNPREPARED = Counter(
    "qunyun_consumer_batch_unprepared_total",
    "Batches whose BatchFold.prepare failed (their transaction then did all the work).",
    ["consumer"],
)

BatchHandler = Callable[[Session, Sequence[CloudEvent]], None]
Prepared = TypeVar("Prepared")


@dataclass(frozen=True)
class BatchFold(Generic[Prepared]):
    """A batch handler in two steps, for a fold whose work outside the database is as large
    as its writes. `prepare` runs in the consumer's polling thread on a run of the batch's
    events before the transaction (while the previous batch's is in flight), on a connection
    of its own, for reading only; it answers None when it cannot do its part there. `apply`
    runs in the transaction with the events the claim left and what `prepare` answered for
    exactly those events, else None (a run the claim or a split changed, a `prepare` that
    failed, a batch not prepared while the consumer meets redelivered events): it then does
    all the work itself. What `prepare` read may change before the transaction begins (it
    does not see what this batch's earlier events or the transaction in flight write): a fold
    uses it only where reading before those is right too, and looks up in the transaction
    again whatever `prepare` did not find."""

    prepare: Callable[[Connection, Sequence[CloudEvent]], Prepared | None]
    apply: Callable[[Session, Sequence[CloudEvent], Prepared | None], None]


# What `BatchFold.prepare` answered, by the ids of the run of events it was given.
PreparedRuns = dict[tuple[str, ...], Any]


def one_step(handler: BatchHandler | BatchFold[Any]) -> BatchHandler:
    """The handler as one step, for events with nothing prepared."""
    if isinstance(handler, BatchFold):
        return functools.partial(_apply_unprepared, handler)
    return handler


def one_by_one(batch_handler: BatchHandler) -> Handler:
    """A batch handler as a per-event handler: a batch of one."""

    def handle(session: Session, event: CloudEvent) -> None:
        batch_handler(session, [event])

    return handle


def _apply_unprepared(fold: BatchFold[Any], session: Session, events: Sequence[CloudEvent]) -> None:
    fold.apply(session, events, None)


def prepare_runs(
    engine: Engine,
    folds: Mapping[str, BatchFold[Any]],
    events: Sequence[CloudEvent],
    *,
    consumer: str,
) -> PreparedRuns:
    """`BatchFold.prepare` for each run of consecutive `events` of a type in `folds`, on one
    connection for the batch. What fails here (the database, a pool with no connection to
    spare, an event `prepare` did not expect) is left to the transaction, which folds the
    events with nothing prepared and handles a failure as it always does: an outage pauses, a
    poison event is split out and dead-lettered. Nothing raised here may stop the consumer."""
    runs = [
        (event_type, list(run))
        for event_type, run in itertools.groupby(events, key=lambda e: e.type)
        if event_type in folds
    ]
    prepared: PreparedRuns = {}
    if not runs:
        return prepared
    try:
        with engine.connect() as connection:
            for event_type, run in runs:
                prepared[tuple(e.id for e in run)] = folds[event_type].prepare(connection, run)
    except Exception as exc:
        BATCH_UNPREPARED.labels(consumer).inc()
        if isinstance(exc, sa.exc.OperationalError):  # an outage: the transaction tells
            log.debug("batch not prepared; its transaction does it all", exc_info=True)
        else:
            log.warning("batch not prepared; its transaction does it all", exc_info=True)
        return {}
    return prepared
