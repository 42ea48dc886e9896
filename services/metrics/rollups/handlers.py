"""Events folded straight into the daily rollups: chat messages (set-based, see
`messages.py`), violations, check-ins and attendance (`activity.py`). What names a group or
community metrics does not know yet is parked until it arrives (`services.metrics.parking`)."""

import time

from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.contracts import ChatMessagePosted
from services.metrics import telemetry
from services.metrics.rollups.activity import count_activity
from services.metrics.rollups.messages import fold_messages


def on_message_posted(session: Session, event: CloudEvent) -> None:
    """One message, folded as a batch of one until the kit's batch mode calls the fold with
    whole polled batches (`fold_messages(session, events)`)."""
    ChatMessagePosted.model_validate(event.data)  # a bad one goes to the dead letters
    started = time.perf_counter()
    result = fold_messages(session, [event])
    telemetry.observe_fold(result, time.perf_counter() - started)


def on_violation_recorded(session: Session, event: CloudEvent) -> None:
    count_activity(session, event)


def on_check_in_recorded(session: Session, event: CloudEvent) -> None:
    count_activity(session, event)


def on_attendance_recorded(session: Session, event: CloudEvent) -> None:
    count_activity(session, event)
