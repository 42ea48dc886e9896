from fastapi import APIRouter

from services.common.db import SessionDep
from services.common.http.identity import WorkspaceDep
from services.metrics import service
from services.metrics.models import OverviewPublic

router = APIRouter(prefix="/v1/metrics", tags=["metrics"])


@router.get("/communities/{community_id}/overview", response_model=OverviewPublic)
def community_overview(
    community_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> OverviewPublic:
    """Headline numbers of a community, from metrics' own read model (eventually consistent)."""
    return service.community_overview(
        session=session, workspace_id=workspace_id, community_id=community_id
    )
