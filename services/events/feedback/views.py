"""Routes for feedback on an activity."""

from fastapi import APIRouter
from sqlmodel import col

from services.common.clock import now
from services.common.db import SessionDep
from services.common.http.pagination import Page, Paging, paginate
from services.events.activities.service import activity_of
from services.events.deps import CommunityDep
from services.events.feedback.models import Feedback, FeedbackIn, FeedbackPublic
from services.events.feedback.service import feedback_query, give
from services.events.problems import FeedbackExists, NotFound, problem_responses

router = APIRouter(
    prefix="/v1/communities/{community_id}/activities/{activity_id}/feedback", tags=["feedback"]
)


def _public(f: Feedback) -> FeedbackPublic:
    return FeedbackPublic(
        id=f.id,
        activity_id=f.activity_id,
        member_id=f.member_id,
        rating=f.rating,
        nps=f.nps,
        comment=f.comment,
        given_at=f.given_at,
    )


@router.post(
    "",
    response_model=FeedbackPublic,
    status_code=201,
    responses=problem_responses(NotFound, FeedbackExists),
)
def give_feedback(
    activity_id: str, body: FeedbackIn, community: CommunityDep, session: SessionDep
) -> FeedbackPublic:
    """A rating (1–5) and/or NPS (0–10) with a comment; once per member per activity.
    Publishes `feedback_given`."""
    activity = activity_of(session, community=community, activity_id=activity_id)
    answer = _public(give(session, community=community, activity=activity, body=body, now=now()))
    session.commit()
    return answer


@router.get("", response_model=Page[FeedbackPublic])
def list_feedback(
    activity_id: str, community: CommunityDep, session: SessionDep, paging: Paging
) -> Page[FeedbackPublic]:
    activity = activity_of(session, community=community, activity_id=activity_id)
    rows, cursor = paginate(session, feedback_query(activity=activity), col(Feedback.id), paging)  # type: ignore[arg-type]
    return Page(data=[_public(f) for f in rows], next_cursor=cursor)
