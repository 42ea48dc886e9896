"""Routes for registration (报名), the waiting list and offers."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlmodel import col

from services.common.clock import now
from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.pagination import Page, Paging, asc, paginate
from services.events.activities.service import activity_of
from services.events.deps import CommunityDep
from services.events.problems import (
    InvalidRegistrationState,
    NotEligible,
    NotFound,
    RegistrationClosed,
    SessionNotOpen,
    problem_responses,
)
from services.events.registration.models import (
    CancellationIn,
    Registration,
    RegistrationIn,
    RegistrationPublic,
    RegistrationSource,
    RegistrationStatus,
)
from services.events.registration.service import (
    accept_offer,
    cancel,
    public,
    register,
    registration_of,
    registrations_query,
)

router = APIRouter(
    prefix="/v1/communities/{community_id}/activities/{activity_id}", tags=["registration"]
)


@router.post(
    "/registrations",
    response_model=RegistrationPublic,
    status_code=201,
    responses={
        200: {
            "model": RegistrationPublic,
            "description": "Already registered for the session: the same registration.",
        },
        **problem_responses(NotFound, NotEligible, RegistrationClosed, SessionNotOpen),
    },
)
def register_route(
    activity_id: str,
    body: RegistrationIn,
    community: CommunityDep,
    session: SessionDep,
    once: OnceDep,
) -> JSONResponse:
    """Register a member: `confirmed` while there is room, else `waitlisted` at the end of the
    waiting list. Registering again for the same session returns the same registration."""

    def run() -> tuple[int, RegistrationPublic]:
        activity = activity_of(session, community=community, activity_id=activity_id)
        reg, created = register(
            session,
            community=community,
            activity=activity,
            session_id=body.session_id,
            member_id=body.member_id,
            source=RegistrationSource.api,
            now=now(),
        )
        return (201 if created else 200), public(session, reg)

    return once.run(body, run)


@router.get("/registrations", response_model=Page[RegistrationPublic])
def list_registrations(
    activity_id: str,
    community: CommunityDep,
    session: SessionDep,
    paging: Paging,
    session_id: str | None = None,
    status: RegistrationStatus | None = None,
) -> Page[RegistrationPublic]:
    """Registrations in arrival order; `status=waitlisted` is the waiting list."""
    activity = activity_of(session, community=community, activity_id=activity_id)
    rows, cursor = paginate(
        session,
        registrations_query(activity=activity, session_id=session_id, status=status),  # type: ignore[arg-type]
        (asc(col(Registration.arrival)), asc(col(Registration.id))),
        paging,
    )
    return Page(data=[public(session, r) for r in rows], next_cursor=cursor)


@router.get(
    "/registrations/{registration_id}",
    response_model=RegistrationPublic,
    responses=problem_responses(NotFound),
)
def get_registration(
    activity_id: str, registration_id: str, community: CommunityDep, session: SessionDep
) -> RegistrationPublic:
    activity = activity_of(session, community=community, activity_id=activity_id)
    return public(
        session, registration_of(session, activity=activity, registration_id=registration_id)
    )


@router.post(
    "/registrations/{registration_id}/cancel",
    response_model=RegistrationPublic,
    responses=problem_responses(NotFound, InvalidRegistrationState),
)
def cancel_registration_route(
    activity_id: str,
    registration_id: str,
    body: CancellationIn,
    community: CommunityDep,
    session: SessionDep,
) -> RegistrationPublic:
    """Cancel; a place it held goes to the first waiting member (promoted, or offered)."""
    activity = activity_of(session, community=community, activity_id=activity_id)
    reg = cancel(
        session, activity=activity, registration_id=registration_id, reason=body.reason, now=now()
    )
    answer = public(session, reg)
    session.commit()
    return answer


@router.post(
    "/registrations/{registration_id}/accept",
    response_model=RegistrationPublic,
    responses=problem_responses(NotFound, InvalidRegistrationState),
)
def accept_offer_route(
    activity_id: str, registration_id: str, community: CommunityDep, session: SessionDep
) -> RegistrationPublic:
    """Take the place offered before the offer lapses."""
    activity = activity_of(session, community=community, activity_id=activity_id)
    reg = accept_offer(session, activity=activity, registration_id=registration_id, now=now())
    answer = public(session, reg)
    session.commit()
    return answer
