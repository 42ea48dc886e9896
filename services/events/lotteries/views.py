"""Routes for lottery draws and their verification."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlmodel import col, select

from services.common.clock import now
from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.pagination import Page, Paging, paginate
from services.events.activities.service import activity_of
from services.events.deps import CommunityDep
from services.events.lotteries.models import Draw, DrawIn, DrawPublic, Verification
from services.events.lotteries.service import draw, draw_of, public, verify
from services.events.problems import NotFound, NothingToDraw, problem_responses

router = APIRouter(
    prefix="/v1/communities/{community_id}/activities/{activity_id}/draws", tags=["lotteries"]
)


@router.post(
    "",
    response_model=DrawPublic,
    status_code=201,
    responses=problem_responses(NotFound, NothingToDraw),
)
def draw_route(
    activity_id: str, body: DrawIn, community: CommunityDep, session: SessionDep, once: OnceDep
) -> JSONResponse:
    """Draw now. The answer is the whole record: seed, eligible entrants with their
    allowances, algorithm version and winners. Publishes `draw_completed`."""

    def run() -> tuple[int, DrawPublic]:
        activity = activity_of(session, community=community, activity_id=activity_id)
        return 201, public(
            draw(session, community=community, activity=activity, body=body, now=now())
        )

    return once.run(body, run)


@router.get("", response_model=Page[DrawPublic], responses=problem_responses(NotFound))
def list_draws(
    activity_id: str, community: CommunityDep, session: SessionDep, paging: Paging
) -> Page[DrawPublic]:
    """The activity's draws, oldest first."""
    activity = activity_of(session, community=community, activity_id=activity_id)
    rows, cursor = paginate(
        session,
        select(Draw).where(
            Draw.activity_id == activity.id, Draw.workspace_id == activity.workspace_id
        ),
        col(Draw.id),
        paging,
    )
    return Page(data=[public(d) for d in rows], next_cursor=cursor)


@router.get("/{draw_id}", response_model=DrawPublic, responses=problem_responses(NotFound))
def get_draw(
    activity_id: str, draw_id: str, community: CommunityDep, session: SessionDep
) -> DrawPublic:
    activity = activity_of(session, community=community, activity_id=activity_id)
    return public(draw_of(session, activity=activity, draw_id=draw_id))


@router.get("/{draw_id}/verify", response_model=Verification, responses=problem_responses(NotFound))
def verify_draw(
    activity_id: str, draw_id: str, community: CommunityDep, session: SessionDep
) -> Verification:
    """Recompute the winners from the draw's record alone and compare."""
    activity = activity_of(session, community=community, activity_id=activity_id)
    return verify(draw_of(session, activity=activity, draw_id=draw_id))
