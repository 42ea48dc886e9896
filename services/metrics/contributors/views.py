"""Route of top contributors and KOL candidates."""

from fastapi import APIRouter

from services.common.db import SessionDep
from services.common.http.pagination import Paging
from services.metrics.contributors import service
from services.metrics.contributors.models import ContributorPage
from services.metrics.deps import CommunityDep, DayRangeDep
from services.metrics.problems import FIGURE_PROBLEMS

router = APIRouter(
    prefix="/v1/metrics/communities/{community_id}", tags=["metrics"], responses=FIGURE_PROBLEMS
)


@router.get("/contributors", response_model=ContributorPage)
def top_contributors(
    community: CommunityDep, days: DayRangeDep, session: SessionDep, paging: Paging
) -> ContributorPage:
    """Members by messages in the range, most first, each marked when they could be asked
    to become a KOL (definition in docs/metrics.md)."""
    data, cursor = service.contributors(
        session, community=community, first=days.first, last=days.last, paging=paging
    )
    return ContributorPage(data=data, next_cursor=cursor)
