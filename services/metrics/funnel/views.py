"""Route of the lifecycle funnel."""

from fastapi import APIRouter

from services.common.db import SessionDep
from services.metrics.deps import CommunityDep, DayRangeDep
from services.metrics.funnel import service
from services.metrics.funnel.models import FunnelPublic
from services.metrics.problems import FIGURE_PROBLEMS

router = APIRouter(
    prefix="/v1/metrics/communities/{community_id}", tags=["metrics"], responses=FIGURE_PROBLEMS
)


@router.get("/funnel", response_model=FunnelPublic)
def community_funnel(
    community: CommunityDep, days: DayRangeDep, session: SessionDep
) -> FunnelPublic:
    """Members per lifecycle stage now; over the range, entries into each stage, how many of
    them moved on (conversion) and the median days spent in the stage."""
    return FunnelPublic(
        community_id=community.community_id,
        first=days.first,
        last=days.last,
        stages=service.funnel(session, community=community, first=days.first, last=days.last),
    )
