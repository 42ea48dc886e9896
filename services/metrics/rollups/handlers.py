"""Events folded straight into the daily rollups: chat messages (set-based, see
`messages.py`), violations, check-ins and attendance."""

import logging
import time
from datetime import datetime

from sqlmodel import Session

from services.common.clock import local_day
from services.common.cloudevents import CloudEvent
from services.common.contracts import (
    AttendanceRecorded,
    ChatMessagePosted,
    CheckInRecorded,
    ViolationRecorded,
)
from services.metrics import telemetry
from services.metrics.replica.models import ChatGroup, Community
from services.metrics.rollups.counters import add_to_community_day
from services.metrics.rollups.messages import fold_messages
from services.metrics.rollups.violations import count_violation

log = logging.getLogger(__name__)


def on_message_posted(session: Session, event: CloudEvent) -> None:
    """One message, folded as a batch of one until the kit's batch mode calls the fold with
    whole polled batches (`fold_messages(session, events)`)."""
    ChatMessagePosted.model_validate(event.data)  # a bad one goes to the dead letters
    started = time.perf_counter()
    result = fold_messages(session, [event])
    telemetry.observe_fold(result, time.perf_counter() - started)


def on_violation_recorded(session: Session, event: CloudEvent) -> None:
    data = ViolationRecorded.model_validate(event.data)
    community = session.get(Community, data.community_id)
    if community is None:
        return
    day = local_day(data.occurred_at, community.timezone)
    count_violation(
        session,
        workspace_id=event.workspaceid,
        community_id=data.community_id,
        group_id=data.group_id if session.get(ChatGroup, data.group_id) else None,
        day=day,
        kinds=data.kinds,
    )


def on_check_in_recorded(session: Session, event: CloudEvent) -> None:
    data = CheckInRecorded.model_validate(event.data)
    _count_activity(session, event, data.community_id, data.recorded_at, check_ins=1)


def on_attendance_recorded(session: Session, event: CloudEvent) -> None:
    data = AttendanceRecorded.model_validate(event.data)
    _count_activity(session, event, data.community_id, data.recorded_at, attendances=1)


def _count_activity(
    session: Session, event: CloudEvent, community_id: str, at: datetime, **delta: int
) -> None:
    community = session.get(Community, community_id)
    if community is None:
        telemetry.UNMATCHED.labels(event.type).inc()
        return
    add_to_community_day(
        session,
        workspace_id=event.workspaceid,
        community_id=community_id,
        day=local_day(at, community.timezone),
        **delta,
    )
