"""Checking members in at a session and marking no-shows when it ends. Never commits.

A code is single-use because checking in locks the registration row and a second scan finds
`checked_in_at` set: it is refused with the time of the first.
"""

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from services.common.contracts import AttendanceRecorded, NoShowRecorded
from services.common.ids import new_id
from services.events.activities.eligibility import require_eligible
from services.events.activities.models import (
    Activity,
    ActivitySession,
    ActivityStatus,
    SessionStatus,
)
from services.events.checkin.models import CheckInIn, SessionClosed
from services.events.problems import AlreadyCheckedIn, NotRegistered, SessionNotOpen, not_found
from services.events.publishing import publish
from services.events.registration.models import Registration, RegistrationSource, RegistrationStatus
from services.events.registration.service import lock_session
from services.events.replica.models import Community
from services.events.replica.service import member_in

# Doors open this long before a session starts.
EARLY = timedelta(hours=2)
CHECK_IN_STATUSES = frozenset(
    {ActivityStatus.registration_open, ActivityStatus.closed, ActivityStatus.running}
)


def _locked_registration(
    session: Session, *, row: ActivitySession, how: CheckInIn
) -> Registration | None:
    query = select(Registration).where(Registration.session_id == row.id)
    if how.code is not None:
        query = query.where(Registration.code == how.code)
    else:
        query = query.where(Registration.member_id == how.member_id)
    return session.exec(query.with_for_update().execution_options(populate_existing=True)).first()


def check_in(
    session: Session,
    *,
    community: Community,
    activity: Activity,
    row: ActivitySession,
    how: CheckInIn,
    now: datetime,
) -> tuple[Registration, bool]:
    """Check a member in; returns the registration and whether they walked in."""
    if activity.status not in CHECK_IN_STATUSES:
        raise SessionNotOpen(reason=f"Activity {activity.id} is {activity.status}.")
    if row.status != SessionStatus.scheduled or not row.starts_at - EARLY <= now < row.ends_at:
        raise SessionNotOpen(
            reason=f"Session {row.id} takes check-ins from {(row.starts_at - EARLY).isoformat()} "
            f"to {row.ends_at.isoformat()} while scheduled."
        )
    if activity.walk_ins:
        # A walk-in changes the session's places: take its lock before the registration's,
        # in the order registering and cancelling take them, so the two never deadlock.
        lock_session(session, row.id)
    reg = _locked_registration(session, row=row, how=how)
    if reg is None and how.code is not None:
        raise not_found("check-in code", how.code)
    if reg is not None and reg.checked_in_at is not None:
        raise AlreadyCheckedIn(checked_in_at=reg.checked_in_at.isoformat())
    walk_in = reg is None or reg.status != RegistrationStatus.confirmed
    if walk_in:
        if not activity.walk_ins or how.member_id is None:
            who = how.member_id or (reg.member_id if reg else "")
            raise NotRegistered(member_id=who, session_id=row.id)
        member = require_eligible(
            activity, member_in(session, community=community, member_id=how.member_id)
        )
        if reg is None:
            reg = Registration(
                id=new_id("reg"),
                workspace_id=activity.workspace_id,
                community_id=activity.community_id,
                activity_id=activity.id,
                session_id=row.id,
                member_id=member.id,
                status=RegistrationStatus.confirmed,
                arrival=0,
                code=new_id("code"),
                registered_at=now,
            )
        # A walk-in is there in person and takes no registration place: `taken` stays as it is
        # (an offered place it held stays counted), so capacity keeps meaning registrations.
        reg.status, reg.source, reg.confirmed_at = (
            RegistrationStatus.confirmed,
            RegistrationSource.walk_in,
            now,
        )
    assert reg is not None
    reg.checked_in_at = now
    session.add(reg)
    session.flush()
    publish(
        session,
        AttendanceRecorded(
            member_id=reg.member_id,
            community_id=reg.community_id,
            activity_id=reg.activity_id,
            recorded_at=now,
        ),
        workspace_id=reg.workspace_id,
        community_id=reg.community_id,
        subject=reg.member_id,
    )
    return reg, walk_in


def close_session(session: Session, *, row: ActivitySession, now: datetime) -> SessionClosed:
    """The session is over: confirmed members who did not check in are no-shows."""
    row = lock_session(session, row.id)
    regs = session.exec(
        select(Registration)
        .where(
            Registration.session_id == row.id,
            Registration.status == RegistrationStatus.confirmed,
        )
        .order_by(col(Registration.arrival))
    ).all()
    attended = no_shows = 0
    for reg in regs:
        if reg.checked_in_at is not None:
            attended += 1
            continue
        if reg.no_show:
            no_shows += 1
            continue
        reg.no_show = True
        no_shows += 1
        session.add(reg)
        publish(
            session,
            NoShowRecorded(
                registration_id=reg.id,
                activity_id=reg.activity_id,
                session_id=reg.session_id,
                community_id=reg.community_id,
                member_id=reg.member_id,
                occurred_at=now,
            ),
            workspace_id=reg.workspace_id,
            community_id=reg.community_id,
            subject=reg.member_id,
        )
    if row.status == SessionStatus.scheduled:
        row.status, row.closed_at = SessionStatus.ended, now
        session.add(row)
    session.flush()
    return SessionClosed(session_id=row.id, attended=attended, no_shows=no_shows)


def close_ended_sessions(session: Session, now: datetime) -> int:
    """Periodic: sessions whose end has passed are closed and their no-shows marked."""
    rows = session.exec(
        select(ActivitySession)
        .join(Activity, col(Activity.id) == col(ActivitySession.activity_id))
        .where(
            ActivitySession.status == SessionStatus.scheduled,
            col(ActivitySession.ends_at) <= now,
            col(Activity.status).in_(list(CHECK_IN_STATUSES | {ActivityStatus.finished})),
        )
        .order_by(col(ActivitySession.ends_at))
        .limit(200)
    ).all()
    for row in rows:
        close_session(session, row=row, now=now)
    return len(rows)


def checked_in_query(*, row: ActivitySession) -> object:
    return select(Registration).where(
        Registration.session_id == row.id, col(Registration.checked_in_at).is_not(None)
    )
