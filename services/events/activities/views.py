"""Routes for activities, their lifecycle, sessions, eligibility and their group."""

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from sqlmodel import col, select

from services.common.clock import now
from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.pagination import Page, Paging, paginate
from services.events.activities.eligibility import first_failure
from services.events.activities.lifecycle import cancel_session, replan, transition
from services.events.activities.models import (
    Activity,
    ActivityCreate,
    ActivityKind,
    ActivityPublic,
    ActivitySession,
    ActivityStatus,
    ActivityUpdate,
    EligibilityAnswer,
    GroupLinkIn,
    SessionPublic,
    TransitionIn,
)
from services.events.activities.service import (
    activities_query,
    activity_of,
    create_activity,
    public,
    session_of,
    session_public,
)
from services.events.deps import CommunityDep
from services.events.groups.service import link_group
from services.events.problems import (
    ActivityNotEditable,
    CapacityBelowTaken,
    InvalidActivityTransition,
    InvalidSchedule,
    LinkedGroupDissolved,
    NotFound,
    SessionNotOpen,
    problem_responses,
)
from services.events.replica.service import member_in

router = APIRouter(prefix="/v1/communities/{community_id}/activities", tags=["activities"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ActivityPublic,
    responses=problem_responses(NotFound, InvalidSchedule),
)
def create_activity_route(
    body: ActivityCreate, community: CommunityDep, session: SessionDep, once: OnceDep
) -> JSONResponse:
    """Create a draft activity; its sessions come from `starts_at`/`ends_at` and `schedule`."""

    def run() -> tuple[int, ActivityPublic]:
        activity = create_activity(session, community=community, body=body)
        return 201, public(activity, community)

    return once.run(body, run)


@router.get("", response_model=Page[ActivityPublic])
def list_activities(
    community: CommunityDep,
    session: SessionDep,
    paging: Paging,
    status: ActivityStatus | None = None,
    kind: ActivityKind | None = None,
) -> Page[ActivityPublic]:
    rows, cursor = paginate(
        session,
        activities_query(community=community, status=status, kind=kind),
        col(Activity.id),
        paging,
    )
    return Page(data=[public(a, community) for a in rows], next_cursor=cursor)


@router.get("/{activity_id}", response_model=ActivityPublic, responses=problem_responses(NotFound))
def get_activity(activity_id: str, community: CommunityDep, session: SessionDep) -> ActivityPublic:
    return public(activity_of(session, community=community, activity_id=activity_id), community)


@router.patch(
    "/{activity_id}",
    response_model=ActivityPublic,
    responses=problem_responses(NotFound, ActivityNotEditable, CapacityBelowTaken),
)
def update_activity_route(
    activity_id: str, body: ActivityUpdate, community: CommunityDep, session: SessionDep
) -> ActivityPublic:
    """Change the plan: KPI targets, budget lines (planned and spent), hosts, eligibility,
    capacity (more places promote the waiting list at once)..."""
    activity = replan(session, community=community, activity_id=activity_id, body=body, now=now())
    answer = public(activity, community)
    session.commit()
    return answer


@router.post(
    "/{activity_id}/transitions",
    response_model=ActivityPublic,
    responses=problem_responses(NotFound, InvalidActivityTransition),
)
def transition_activity(
    activity_id: str, body: TransitionIn, community: CommunityDep, session: SessionDep
) -> ActivityPublic:
    """Move the activity along its lifecycle. `cancelled` tells every registrant (an event);
    `published` asks for the temporary group if the activity wants one; `finished` closes the
    sessions and marks no-shows."""
    activity = transition(
        session,
        community=community,
        activity_id=activity_id,
        target=body.to,
        reason=body.reason,
        now=now(),
    )
    answer = public(activity, community)
    session.commit()
    return answer


@router.get(
    "/{activity_id}/sessions",
    response_model=Page[SessionPublic],
    responses=problem_responses(NotFound),
)
def list_sessions(
    activity_id: str, community: CommunityDep, session: SessionDep, paging: Paging
) -> Page[SessionPublic]:
    """The activity's sessions, in order."""
    activity = activity_of(session, community=community, activity_id=activity_id)
    rows, cursor = paginate(
        session,
        select(ActivitySession).where(
            ActivitySession.activity_id == activity.id,
            ActivitySession.workspace_id == activity.workspace_id,
        ),
        (col(ActivitySession.position), col(ActivitySession.id)),
        paging,
    )
    return Page(data=[session_public(r, community.timezone) for r in rows], next_cursor=cursor)


@router.post(
    "/{activity_id}/sessions/{session_id}/cancel",
    response_model=SessionPublic,
    responses=problem_responses(NotFound, SessionNotOpen),
)
def cancel_session_route(
    activity_id: str, session_id: str, community: CommunityDep, session: SessionDep
) -> SessionPublic:
    """Cancel one occurrence; its registrants are told and no reminder goes out for it."""
    activity = activity_of(session, community=community, activity_id=activity_id)
    row = session_of(session, activity=activity, session_id=session_id)
    row = cancel_session(session, activity=activity, row=row, now=now())
    answer = session_public(row, community.timezone)
    session.commit()
    return answer


@router.get(
    "/{activity_id}/eligibility/{member_id}",
    response_model=EligibilityAnswer,
    responses=problem_responses(NotFound),
)
def get_eligibility(
    activity_id: str, member_id: str, community: CommunityDep, session: SessionDep
) -> EligibilityAnswer:
    """Whether a member may register, and if not the first condition that fails."""
    activity = activity_of(session, community=community, activity_id=activity_id)
    failure = first_failure(activity, member_in(session, community=community, member_id=member_id))
    return EligibilityAnswer(
        member_id=member_id,
        eligible=failure is None,
        condition=failure.condition if failure else None,
        detail=failure.detail if failure else None,
    )


@router.put(
    "/{activity_id}/group",
    response_model=ActivityPublic,
    responses=problem_responses(NotFound, LinkedGroupDissolved),
)
def link_group_route(
    activity_id: str, body: GroupLinkIn, community: CommunityDep, session: SessionDep
) -> ActivityPublic:
    """Link the activity's (temporary) group; confirmed registrants are invited by event."""
    activity = activity_of(session, community=community, activity_id=activity_id)
    link_group(session, community=community, activity=activity, group_id=body.group_id, now=now())
    answer = public(activity, community)
    session.commit()
    return answer
