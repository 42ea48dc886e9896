"""Events folded straight into the daily rollups: chat messages (set-based, see
`messages.py`), violations, check-ins and attendance (`activity.py`). What names a group or
community metrics does not know yet is parked until it arrives (`services.metrics.parking`)."""

import time
from collections.abc import Sequence

from sqlmodel import Session

from services.common.batch_folds import BatchFold
from services.common.cloudevents import CloudEvent
from services.common.contracts import ChatMessagePosted
from services.metrics import telemetry
from services.metrics.rollups.activity import count_activity
from services.metrics.rollups.messages import (
    Tally,
    fold_parsed,
    parse_messages,
    tally_messages,
    write_tally,
)


def fold_message_batch(session: Session, events: Sequence[CloudEvent], tally: Tally | None) -> None:
    """A polled batch of messages, folded in one go (the kit's batch mode, which has claimed
    the events' ids in this transaction and dropped the duplicates, so the fold does not
    claim them again): its `tally`, counted before the transaction, written, or, without
    one, the whole fold. A message that is not one fails the whole batch, so the kit splits it
    until that message is alone and hands it to `on_message_posted`, which sends it to the
    dead letters."""
    if tally is None:
        _fold(session, events, claim=False)
        return
    started = time.perf_counter()
    telemetry.observe_fold(write_tally(session, tally), time.perf_counter() - started)


# Chat in the kit's two steps: counted while the previous batch is written, then written.
MESSAGE_FOLD = BatchFold(prepare=tally_messages, apply=fold_message_batch)


def on_message_posted(session: Session, event: CloudEvent) -> None:
    """One message: what a batch split down to one event comes to. Claimed by the fold as
    well, so a caller that claims nothing itself folds each message once all the same."""
    _fold(session, [event], claim=True)


def _fold(session: Session, events: Sequence[CloudEvent], *, claim: bool) -> None:
    started = time.perf_counter()
    parsed, rejected = parse_messages(events)
    if rejected:
        bad = next(e for e in events if e.id == rejected[0])
        ChatMessagePosted.model_validate(bad.data)  # raises: the kit splits the batch
    result = fold_parsed(session, parsed, received=len(events), claim=claim)
    telemetry.observe_fold(result, time.perf_counter() - started)


def on_violation_recorded(session: Session, event: CloudEvent) -> None:
    count_activity(session, event)


def on_check_in_recorded(session: Session, event: CloudEvent) -> None:
    count_activity(session, event)


def on_attendance_recorded(session: Session, event: CloudEvent) -> None:
    count_activity(session, event)
