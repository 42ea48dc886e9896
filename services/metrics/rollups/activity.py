"""Violations, check-ins and attendance into their community's day, or parked until the
community is known: activity (`qunyun.activities.v1`) has no order with the members' events
that register a community, so on a fresh deploy or a replay it may come first."""

from datetime import datetime

from sqlmodel import Session

from services.common.clock import local_day
from services.common.cloudevents import CloudEvent
from services.common.contracts import AttendanceRecorded, CheckInRecorded, ViolationRecorded
from services.metrics import telemetry
from services.metrics.parking import service as parking
from services.metrics.replica.models import ChatGroup, Community
from services.metrics.rollups.counters import add_to_community_day
from services.metrics.rollups.violations import count_violation

# The event types counted here; the replay of a community's parked events knows them by it.
ACTIVITY_TYPES = (ViolationRecorded.type, CheckInRecorded.type, AttendanceRecorded.type)


def count_activity(session: Session, event: CloudEvent) -> bool:
    """Count one violation, check-in or attendance; False when it was parked instead."""
    if event.type == ViolationRecorded.type:
        violation = ViolationRecorded.model_validate(event.data)
        community = _community_or_park(session, event, violation.community_id)
        if community is None:
            return False
        known_group = session.get(ChatGroup, violation.group_id) is not None
        count_violation(
            session,
            workspace_id=event.workspaceid,
            community_id=violation.community_id,
            group_id=violation.group_id if known_group else None,
            day=local_day(violation.occurred_at, community.timezone),
            kinds=violation.kinds,
        )
        return True
    if event.type == CheckInRecorded.type:
        check_in = CheckInRecorded.model_validate(event.data)
        return _add(session, event, check_in.community_id, check_in.recorded_at, check_ins=1)
    if event.type == AttendanceRecorded.type:
        attendance = AttendanceRecorded.model_validate(event.data)
        return _add(session, event, attendance.community_id, attendance.recorded_at, attendances=1)
    raise ValueError(f"not an activity event: {event.type}")


def _add(
    session: Session, event: CloudEvent, community_id: str, at: datetime, **delta: int
) -> bool:
    community = _community_or_park(session, event, community_id)
    if community is None:
        return False
    add_to_community_day(
        session,
        workspace_id=event.workspaceid,
        community_id=community_id,
        day=local_day(at, community.timezone),
        **delta,
    )
    return True


def _community_or_park(session: Session, event: CloudEvent, community_id: str) -> Community | None:
    """The community, or None once the event is parked until it arrives. The second look,
    under the parking lock, sees a community registered meanwhile (see `parking.service`)."""
    if (community := session.get(Community, community_id)) is not None:
        return community
    parking.hold_workspaces(session, [event.workspaceid], exclusive=False)
    if (community := session.get(Community, community_id)) is not None:
        return community
    if parking.park_event(session, event=event, community_id=community_id):
        telemetry.PARKED.labels(event.type, "parked").inc()
    return None
