"""Route of referral figures."""

from fastapi import APIRouter

from services.common.db import SessionDep
from services.metrics.deps import CommunityDep, DayRangeDep
from services.metrics.problems import FIGURE_PROBLEMS
from services.metrics.referrals import service
from services.metrics.referrals.models import ReferralsPublic

router = APIRouter(
    prefix="/v1/metrics/communities/{community_id}", tags=["metrics"], responses=FIGURE_PROBLEMS
)


@router.get("/referrals", response_model=ReferralsPublic)
def community_referrals(
    community: CommunityDep, days: DayRangeDep, session: SessionDep
) -> ReferralsPublic:
    """Referrals (裂变) over the range: invited and referred joins, successes, failures by
    reason, top referrers and the K-factor with its parts (K = i × c)."""
    return service.referrals(session, community=community, first=days.first, last=days.last)
