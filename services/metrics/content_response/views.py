"""Route of content response."""

from fastapi import APIRouter

from services.common.db import SessionDep
from services.metrics.content_response import service
from services.metrics.content_response.models import ContentResponsePublic
from services.metrics.deps import CommunityDep, DayRangeDep
from services.metrics.problems import FIGURE_PROBLEMS

router = APIRouter(
    prefix="/v1/metrics/communities/{community_id}", tags=["metrics"], responses=FIGURE_PROBLEMS
)


@router.get("/content-response", response_model=ContentResponsePublic)
def community_content_response(
    community: CommunityDep, days: DayRangeDep, session: SessionDep
) -> ContentResponsePublic:
    """For each publication of the range: replies, distinct repliers and members' messages in
    the two hours after, against the same hours of the 4 weeks before; by content kind and
    value dimension; and the mix of value dimensions published."""
    publications, by_kind, by_dimension, mix = service.content_response(
        session, community=community, first=days.first, last=days.last
    )
    return ContentResponsePublic(
        community_id=community.community_id,
        publications=publications,
        by_kind=by_kind,
        by_dimension=by_dimension,
        dimension_mix=mix,
    )
