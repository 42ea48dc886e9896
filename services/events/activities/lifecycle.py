"""The lifecycle of an activity (rule 17): draft → published → registration_open → closed →
running → finished → reported, or cancelled. An impossible step is a 409 naming the steps
that are possible. Never commits."""

from datetime import datetime

from sqlmodel import Session, col, select

from services.common.contracts import ActivityCancelled, SessionCancelled
from services.events.activities.models import (
    Activity,
    ActivitySession,
    ActivityStatus,
    ActivityUpdate,
    SessionStatus,
)
from services.events.activities.plan import announce_plan
from services.events.activities.service import locked_activity, sessions_of, update_activity
from services.events.checkin.service import close_session
from services.events.groups.service import request_group
from services.events.problems import CapacityBelowTaken, InvalidActivityTransition, SessionNotOpen
from services.events.publishing import publish
from services.events.registration.models import LIVE, Registration, RegistrationStatus
from services.events.registration.service import fill_places, lock_session, release_all
from services.events.replica.models import Community

TRANSITIONS: dict[ActivityStatus, frozenset[ActivityStatus]] = {
    ActivityStatus.draft: frozenset({ActivityStatus.published, ActivityStatus.cancelled}),
    ActivityStatus.published: frozenset(
        {ActivityStatus.registration_open, ActivityStatus.running, ActivityStatus.cancelled}
    ),
    ActivityStatus.registration_open: frozenset({ActivityStatus.closed, ActivityStatus.cancelled}),
    ActivityStatus.closed: frozenset(
        {ActivityStatus.registration_open, ActivityStatus.running, ActivityStatus.cancelled}
    ),
    ActivityStatus.running: frozenset({ActivityStatus.finished}),
    ActivityStatus.finished: frozenset({ActivityStatus.reported}),
    ActivityStatus.reported: frozenset(),
    ActivityStatus.cancelled: frozenset(),
}


def transition(
    session: Session,
    *,
    community: Community,
    activity_id: str,
    target: ActivityStatus,
    reason: str | None,
    now: datetime,
) -> Activity:
    """Move the activity one step, with what the step sets off."""
    activity = locked_activity(session, community=community, activity_id=activity_id)
    current = ActivityStatus(activity.status)
    allowed = TRANSITIONS[current]
    if target not in allowed:
        raise InvalidActivityTransition(
            activity_id=activity.id,
            current=current,
            target=target,
            allowed=sorted(allowed),
        )
    activity.status, activity.status_reason, activity.updated_at = target, reason, now
    if target == ActivityStatus.published:
        activity.published_at = now
        request_group(session, activity=activity, now=now)
    elif target == ActivityStatus.cancelled:
        _cancel(session, activity=activity, reason=reason, now=now)
    elif target == ActivityStatus.finished:
        for row in sessions_of(session, activity=activity):
            if row.status == SessionStatus.scheduled:
                close_session(session, row=row, now=now)
    session.add(activity)
    announce_plan(session, activity=activity, now=now)
    return activity


def _cancel(session: Session, *, activity: Activity, reason: str | None, now: datetime) -> None:
    for row in sessions_of(session, activity=activity):
        if row.status == SessionStatus.scheduled:
            locked = lock_session(session, row.id)
            locked.status, locked.closed_at = SessionStatus.cancelled, now
            session.add(locked)
    member_ids = release_all(session, activity=activity, reason="activity_cancelled", now=now)
    publish(
        session,
        ActivityCancelled(
            activity_id=activity.id,
            community_id=activity.community_id,
            title=activity.title,
            reason=reason,
            member_ids=member_ids,
            cancelled_at=now,
        ),
        workspace_id=activity.workspace_id,
        community_id=activity.community_id,
        subject=activity.id,
    )


def cancel_session(
    session: Session, *, activity: Activity, row: ActivitySession, now: datetime
) -> ActivitySession:
    """One occurrence does not take place (an exception after the fact): its registrations
    end, its registrants are told, and it sends no reminders."""
    row = lock_session(session, row.id)
    if row.status != SessionStatus.scheduled:
        raise SessionNotOpen(reason=f"Session {row.id} is {row.status}.")
    regs = session.exec(
        select(Registration).where(
            Registration.session_id == row.id, col(Registration.status).in_(list(LIVE))
        )
    ).all()
    for reg in regs:
        reg.status, reg.cancelled_at = RegistrationStatus.cancelled, now
        session.add(reg)
    row.status, row.closed_at, row.taken = SessionStatus.cancelled, now, 0
    session.add(row)
    publish(
        session,
        SessionCancelled(
            activity_id=activity.id,
            session_id=row.id,
            community_id=activity.community_id,
            starts_at=row.starts_at,
            member_ids=sorted({r.member_id for r in regs}),
            cancelled_at=now,
        ),
        workspace_id=activity.workspace_id,
        community_id=activity.community_id,
        subject=activity.id,
    )
    announce_plan(session, activity=activity, now=now)
    return row


def replan(
    session: Session,
    *,
    community: Community,
    activity_id: str,
    body: ActivityUpdate,
    now: datetime,
) -> Activity:
    """Change the plan; a new capacity reaches every session still to come, and places it
    adds go to the waiting list in arrival order."""
    activity = locked_activity(session, community=community, activity_id=activity_id)
    activity = update_activity(session, community=community, activity=activity, body=body)
    if body.capacity is not None and body.capacity != activity.capacity:
        for row in sessions_of(session, activity=activity):
            if row.status != SessionStatus.scheduled:
                continue
            row = lock_session(session, row.id)
            if row.taken > body.capacity:
                raise CapacityBelowTaken(session_id=row.id, taken=row.taken, capacity=body.capacity)
            row.capacity = body.capacity
            fill_places(session, activity=activity, row=row, now=now)
        activity.capacity = body.capacity
        session.add(activity)
    announce_plan(session, activity=activity, now=now)
    return activity
