"""Routes for check-in (签到) at a session."""

from fastapi import APIRouter
from sqlmodel import col

from services.common.clock import now
from services.common.db import SessionDep
from services.common.http.pagination import Page, Paging, asc, paginate
from services.events.activities.service import activity_of, session_of
from services.events.checkin.models import CheckInIn, CheckInPublic, SessionClosed
from services.events.checkin.service import check_in, checked_in_query, close_session
from services.events.deps import CommunityDep
from services.events.problems import (
    AlreadyCheckedIn,
    NotEligible,
    NotFound,
    NotRegistered,
    SessionNotOpen,
    problem_responses,
)
from services.events.registration.models import Registration, RegistrationSource

router = APIRouter(
    prefix="/v1/communities/{community_id}/activities/{activity_id}/sessions/{session_id}",
    tags=["check-in"],
)


def _public(reg: Registration) -> CheckInPublic:
    assert reg.checked_in_at is not None
    return CheckInPublic(
        registration_id=reg.id,
        session_id=reg.session_id,
        member_id=reg.member_id,
        checked_in_at=reg.checked_in_at,
        walk_in=reg.source == RegistrationSource.walk_in,
    )


@router.post(
    "/check-ins",
    response_model=CheckInPublic,
    status_code=201,
    responses=problem_responses(
        NotFound, NotEligible, AlreadyCheckedIn, NotRegistered, SessionNotOpen
    ),
)
def check_in_route(
    activity_id: str, session_id: str, body: CheckInIn, community: CommunityDep, session: SessionDep
) -> CheckInPublic:
    """Check in by `member_id` or by the registration's single-use `code`; a walk-in when the
    activity allows it. Publishes `attendance_recorded`."""
    activity = activity_of(session, community=community, activity_id=activity_id)
    row = session_of(session, activity=activity, session_id=session_id)
    reg, _ = check_in(session, community=community, activity=activity, row=row, how=body, now=now())
    answer = _public(reg)
    session.commit()
    return answer


@router.get("/check-ins", response_model=Page[CheckInPublic])
def list_check_ins(
    activity_id: str, session_id: str, community: CommunityDep, session: SessionDep, paging: Paging
) -> Page[CheckInPublic]:
    activity = activity_of(session, community=community, activity_id=activity_id)
    row = session_of(session, activity=activity, session_id=session_id)
    rows, cursor = paginate(
        session,
        checked_in_query(row=row),  # type: ignore[arg-type]
        (asc(col(Registration.checked_in_at)), asc(col(Registration.id))),
        paging,
    )
    return Page(data=[_public(r) for r in rows], next_cursor=cursor)


@router.post("/close", response_model=SessionClosed)
def close_session_route(
    activity_id: str, session_id: str, community: CommunityDep, session: SessionDep
) -> SessionClosed:
    """End the session now: confirmed members not checked in are marked no-shows (the
    periodic job does this by itself when a session's end passes)."""
    activity = activity_of(session, community=community, activity_id=activity_id)
    row = session_of(session, activity=activity, session_id=session_id)
    closed = close_session(session, row=row, now=now())
    session.commit()
    return closed
