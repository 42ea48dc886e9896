"""Registering under concurrency, the waiting list, promotions and offers. Never commits.

Every change to who holds a place in a session happens with that session's row locked
(`SELECT … FOR UPDATE`), so its `taken` count never passes the capacity however many
requests race, and arrival numbers are handed out in the order the lock was granted: the
waiting list is served first come, first served.
"""

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from services.common.contracts import (
    OfferExpired,
    PlaceOffered,
    Promoted,
    Registered,
    RegistrationCancelled,
    Waitlisted,
)
from services.common.ids import new_id
from services.events.activities.eligibility import require_eligible
from services.events.activities.models import (
    Activity,
    ActivitySession,
    ActivityStatus,
    SessionStatus,
)
from services.events.groups.service import invite
from services.events.problems import (
    InvalidRegistrationState,
    RegistrationClosed,
    SessionNotOpen,
    not_found,
)
from services.events.publishing import publish
from services.events.registration.models import (
    HOLDING,
    LIVE,
    Registration,
    RegistrationPublic,
    RegistrationSource,
    RegistrationStatus,
)
from services.events.replica.models import Community, Member
from services.events.replica.service import member_in


def lock_session(session: Session, session_id: str) -> ActivitySession:
    """The session row, locked for this transaction and read fresh."""
    row = session.exec(
        select(ActivitySession)
        .where(ActivitySession.id == session_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise not_found("session", session_id)
    return row


def next_session(session: Session, *, activity: Activity, now: datetime) -> ActivitySession:
    """The first session of the activity still to start."""
    row = session.exec(
        select(ActivitySession)
        .where(
            ActivitySession.activity_id == activity.id,
            ActivitySession.status == SessionStatus.scheduled,
            ActivitySession.starts_at > now,
        )
        .order_by(col(ActivitySession.starts_at))
    ).first()
    if row is None:
        raise SessionNotOpen(reason=f"Activity {activity.id} has no session still to start.")
    return row


def _check_open(activity: Activity, row: ActivitySession, now: datetime) -> None:
    if activity.status != ActivityStatus.registration_open:
        raise RegistrationClosed(reason=f"Activity {activity.id} is {activity.status}.")
    if activity.registration_opens_at and now < activity.registration_opens_at:
        raise RegistrationClosed(
            reason=f"Registration opens at {activity.registration_opens_at.isoformat()}."
        )
    if activity.registration_closes_at and now >= activity.registration_closes_at:
        raise RegistrationClosed(
            reason=f"Registration closed at {activity.registration_closes_at.isoformat()}."
        )
    if row.activity_id != activity.id:
        raise not_found("session", row.id)
    if row.status != SessionStatus.scheduled or row.starts_at <= now:
        raise SessionNotOpen(reason=f"Session {row.id} is {row.status} or has started.")


def _has_room(row: ActivitySession) -> bool:
    return row.capacity is None or row.taken < row.capacity


def _event_fields(reg: Registration, at: datetime) -> dict[str, Any]:
    return {
        "registration_id": reg.id,
        "activity_id": reg.activity_id,
        "session_id": reg.session_id,
        "community_id": reg.community_id,
        "member_id": reg.member_id,
        "occurred_at": at,
    }


def _publish(session: Session, reg: Registration, data: object) -> None:
    publish(
        session,
        data,  # type: ignore[arg-type]
        workspace_id=reg.workspace_id,
        community_id=reg.community_id,
        subject=reg.member_id,
    )


def waitlist_position(session: Session, reg: Registration) -> int | None:
    if reg.status != RegistrationStatus.waitlisted:
        return None
    ahead = session.exec(
        select(func.count()).where(
            Registration.session_id == reg.session_id,
            Registration.status == RegistrationStatus.waitlisted,
            Registration.arrival < reg.arrival,
        )
    ).one()
    return int(ahead) + 1


def register(
    session: Session,
    *,
    community: Community,
    activity: Activity,
    session_id: str | None,
    member_id: str,
    source: RegistrationSource,
    now: datetime,
) -> tuple[Registration, bool]:
    """Register a member for a session: a confirmed place if there is room, else the end of
    the waiting list. Idempotent per member and session: a live registration is returned as
    it is (second value False)."""
    member = require_eligible(
        activity, member_in(session, community=community, member_id=member_id)
    )
    row = (
        session.get(ActivitySession, session_id)
        if session_id
        else next_session(session, activity=activity, now=now)
    )
    if row is None:
        raise not_found("session", session_id or "")
    _check_open(activity, row, now)
    row = lock_session(session, row.id)
    _check_open(activity, row, now)
    reg = session.exec(
        select(Registration)
        .where(Registration.session_id == row.id, Registration.member_id == member.id)
        .execution_options(populate_existing=True)
    ).first()
    if reg is not None and reg.status in LIVE:
        return reg, False
    arrival = session.execute(text("SELECT nextval('registration_arrival')")).scalar_one()
    room = _has_room(row)
    status = RegistrationStatus.confirmed if room else RegistrationStatus.waitlisted
    if reg is None:
        reg = Registration(
            id=new_id("reg"),
            workspace_id=activity.workspace_id,
            community_id=activity.community_id,
            activity_id=activity.id,
            session_id=row.id,
            member_id=member.id,
            status=status,
            arrival=arrival,
            code=secrets.token_hex(8),
            registered_at=now,
        )
    else:  # registering again after cancelling: a new arrival at the end of the queue
        reg.status, reg.arrival, reg.registered_at = status, arrival, now
        reg.cancelled_at = reg.offer_expires_at = reg.confirmed_at = None
    reg.source = source
    if room:
        reg.confirmed_at = now
        row.taken += 1
        session.add(row)
    session.add(reg)
    session.flush()
    if room:
        _publish(session, reg, Registered(**_event_fields(reg, now), source=source))
        invite(session, activity=activity, member_id=reg.member_id, now=now)
    else:
        position = waitlist_position(session, reg) or 1
        _publish(
            session, reg, Waitlisted(**_event_fields(reg, now), position=position, source=source)
        )
    return reg, True


def registration_of(session: Session, *, activity: Activity, registration_id: str) -> Registration:
    reg = session.get(Registration, registration_id)
    if reg is None or reg.activity_id != activity.id:
        raise not_found("registration", registration_id)
    return reg


def fill_places(
    session: Session, *, activity: Activity, row: ActivitySession, now: datetime
) -> list[Registration]:
    """Give the free places of a locked session to the waiting list, first come first served:
    confirmed at once, or offered for the activity's `offer_hours`."""
    moved: list[Registration] = []
    while _has_room(row):
        reg = session.exec(
            select(Registration)
            .where(
                Registration.session_id == row.id,
                Registration.status == RegistrationStatus.waitlisted,
            )
            .order_by(col(Registration.arrival))
            .limit(1)
            .execution_options(populate_existing=True)
        ).first()
        if reg is None:
            break
        member = session.get(Member, reg.member_id)
        if member is None or not member.is_member:
            # Left the community while waiting: their turn passes to the next.
            reg.status, reg.cancelled_at = RegistrationStatus.cancelled, now
            session.add(reg)
            session.flush()
            _publish(
                session,
                reg,
                RegistrationCancelled(
                    **_event_fields(reg, now), was="waitlisted", reason="not_a_member"
                ),
            )
            continue
        row.taken += 1
        if activity.offer_hours:
            reg.status = RegistrationStatus.offered
            reg.offer_expires_at = now + timedelta(hours=activity.offer_hours)
            data: object = PlaceOffered(**_event_fields(reg, now), expires_at=reg.offer_expires_at)
        else:
            reg.status, reg.confirmed_at = RegistrationStatus.confirmed, now
            data = Promoted(**_event_fields(reg, now), via="waitlist")
        session.add(reg)
        session.flush()
        _publish(session, reg, data)
        if reg.status == RegistrationStatus.confirmed:
            invite(session, activity=activity, member_id=reg.member_id, now=now)
        moved.append(reg)
    session.add(row)
    return moved


def cancel(
    session: Session, *, activity: Activity, registration_id: str, reason: str, now: datetime
) -> Registration:
    """Cancel a registration; a place it held goes to the waiting list."""
    reg = registration_of(session, activity=activity, registration_id=registration_id)
    row = lock_session(session, reg.session_id)
    session.refresh(reg)
    if reg.status not in LIVE:
        raise InvalidRegistrationState(registration_id=reg.id, registration_status=reg.status)
    if reg.checked_in_at is not None:  # they came: attendance is history, not a place to free
        raise InvalidRegistrationState(registration_id=reg.id, registration_status="checked_in")
    was = reg.status
    reg.status, reg.cancelled_at = RegistrationStatus.cancelled, now
    session.add(reg)
    if was in HOLDING:
        row.taken -= 1
    session.flush()
    _publish(session, reg, RegistrationCancelled(**_event_fields(reg, now), was=was, reason=reason))
    if was in HOLDING and row.status == SessionStatus.scheduled:
        fill_places(session, activity=activity, row=row, now=now)
    return reg


def accept_offer(
    session: Session, *, activity: Activity, registration_id: str, now: datetime
) -> Registration:
    """Take an offered place before it lapses."""
    reg = registration_of(session, activity=activity, registration_id=registration_id)
    lock_session(session, reg.session_id)
    session.refresh(reg)
    if reg.status != RegistrationStatus.offered:
        raise InvalidRegistrationState(registration_id=reg.id, registration_status=reg.status)
    assert reg.offer_expires_at is not None
    if reg.offer_expires_at <= now:
        raise InvalidRegistrationState(registration_id=reg.id, registration_status="offer_expired")
    reg.status, reg.confirmed_at = RegistrationStatus.confirmed, now
    session.add(reg)
    session.flush()
    _publish(session, reg, Promoted(**_event_fields(reg, now), via="offer"))
    invite(session, activity=activity, member_id=reg.member_id, now=now)
    return reg


def lapse_offers(session: Session, now: datetime) -> int:
    """Periodic: offers not accepted in time expire and their places pass on."""
    due = session.exec(
        select(Registration.session_id)
        .where(
            Registration.status == RegistrationStatus.offered,
            col(Registration.offer_expires_at) <= now,
        )
        .distinct()
    ).all()
    lapsed = 0
    for session_id in due:
        row = lock_session(session, session_id)
        activity = session.get(Activity, row.activity_id)
        assert activity is not None
        expired = session.exec(
            select(Registration)
            .where(
                Registration.session_id == session_id,
                Registration.status == RegistrationStatus.offered,
                col(Registration.offer_expires_at) <= now,
            )
            .order_by(col(Registration.arrival))
            .execution_options(populate_existing=True)
        ).all()
        for reg in expired:
            reg.status = RegistrationStatus.offer_expired
            row.taken -= 1
            session.add(reg)
            session.flush()
            _publish(session, reg, OfferExpired(**_event_fields(reg, now)))
            lapsed += 1
        if row.status == SessionStatus.scheduled and row.starts_at > now:
            fill_places(session, activity=activity, row=row, now=now)
    return lapsed


def release_all(session: Session, *, activity: Activity, reason: str, now: datetime) -> list[str]:
    """The activity is cancelled: every live registration ends; returns the members told."""
    regs = session.exec(
        select(Registration).where(
            Registration.activity_id == activity.id, col(Registration.status).in_(list(LIVE))
        )
    ).all()
    for reg in regs:
        reg.status, reg.cancelled_at = RegistrationStatus.cancelled, now
        session.add(reg)
    return sorted({r.member_id for r in regs})


def registrations_query(
    *, activity: Activity, session_id: str | None, status: RegistrationStatus | None
) -> object:
    query = select(Registration).where(
        Registration.workspace_id == activity.workspace_id,
        Registration.activity_id == activity.id,
    )
    if session_id:
        query = query.where(Registration.session_id == session_id)
    if status:
        query = query.where(Registration.status == status)
    return query


def public(session: Session, reg: Registration) -> RegistrationPublic:
    fields = {c.name: getattr(reg, c.name) for c in Registration.__table__.columns}  # type: ignore[attr-defined]
    return RegistrationPublic.model_validate(
        fields | {"waitlist_position": waitlist_position(session, reg)}
    )


def release_member(session: Session, *, community_id: str, member_id: str, now: datetime) -> int:
    """A member left the community: their places in sessions still to come are given back
    (and pass to the waiting list); returns how many registrations ended."""
    regs = session.exec(
        select(Registration)
        .join(ActivitySession, col(ActivitySession.id) == col(Registration.session_id))
        .where(
            Registration.community_id == community_id,
            Registration.member_id == member_id,
            col(Registration.status).in_(list(LIVE)),
            col(Registration.checked_in_at).is_(None),
            ActivitySession.status == SessionStatus.scheduled,
            col(ActivitySession.starts_at) > now,
        )
    ).all()
    for reg in regs:
        activity = session.get(Activity, reg.activity_id)
        assert activity is not None
        cancel(session, activity=activity, registration_id=reg.id, reason="left_community", now=now)
    return len(regs)
