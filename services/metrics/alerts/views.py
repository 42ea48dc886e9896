"""Routes of alerts and of a community's alert thresholds."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.common.clock import now
from services.common.db import SessionDep
from services.common.http.pagination import Paging
from services.metrics.alerts import service
from services.metrics.alerts.models import AlertPage, Thresholds, ThresholdsUpdate
from services.metrics.alerts.thresholds import thresholds_of, update_thresholds
from services.metrics.deps import CommunityDep
from services.metrics.problems import FIGURE_PROBLEMS

router = APIRouter(
    prefix="/v1/metrics/communities/{community_id}", tags=["metrics"], responses=FIGURE_PROBLEMS
)


@router.get("/alerts", response_model=AlertPage)
def community_alerts(
    community: CommunityDep,
    session: SessionDep,
    paging: Paging,
    state: Annotated[
        str, Query(pattern="^(open|all)$", description="`open` (default) or `all`.")
    ] = "open",
) -> AlertPage:
    """The community's alerts, newest first: silent, shrinking or broadcast-only groups,
    speakers dropping, complaint spikes. Each opens once and resolves once."""
    data, cursor = service.list_alerts(
        session, community=community, open_only=state == "open", paging=paging
    )
    return AlertPage(data=data, next_cursor=cursor)


@router.get("/alert-thresholds", response_model=Thresholds)
def get_thresholds(community: CommunityDep, session: SessionDep) -> Thresholds:
    """The thresholds in force: the community purpose's defaults with its own changes."""
    return thresholds_of(session, community)


@router.patch("/alert-thresholds", response_model=Thresholds)
def patch_thresholds(
    community: CommunityDep, session: SessionDep, update: ThresholdsUpdate
) -> Thresholds:
    """Change some thresholds; `null` returns one to its purpose's default."""
    thresholds = update_thresholds(session, community=community, update=update, at=now())
    session.commit()
    return thresholds
