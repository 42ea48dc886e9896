"""Inactivity pruning (DOMAIN.md rule 8): who took part too little in a period is removed.

Operators start runs by hand (a dry run first, to see who would go) and read every run with
its candidates; the policy's runs also start by themselves once per period (JOBS). Real runs
remove through `states.apply_move`, which records and announces each removal. The list of
silent members serves the other half of the rule: @-mentioning those who have not spoken.
"""

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import ActorDep, WorkspaceDep
from services.common.http.pagination import (
    Page,
    PageParams,
    decode_cursor,
    encode_cursor,
    page_params,
    paginate,
)
from services.common.http.problems import not_found
from services.common.periodic import PeriodicJob
from services.members import service
from services.members.models import Member, MemberPublic, now
from services.members.pruning_runs import (
    Outcome,
    PruneCandidate,
    PruneRun,
    run_prune,
    scheduled_pruning,
)
from services.members.rules import PRESENT

router = APIRouter(prefix="/v1", tags=["pruning"])
Paging = Annotated[PageParams, Depends(page_params)]

JOBS = [PeriodicJob("scheduled-pruning", 600, scheduled_pruning)]


class PruneRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dry_run: bool = False


class CandidatePublic(BaseModel):
    member_id: str
    display_name: str
    participations: int
    missed: int | None
    outcome: Outcome


class PruneRunPublic(BaseModel):
    id: str
    community_id: str
    dry_run: bool
    scheduled: bool
    status: str
    period_start: date
    period_end: date
    policy: dict[str, Any]
    candidate_count: int
    removed_count: int
    actor: str
    created_at: datetime
    completed_at: datetime | None


class PruneRunDetail(PruneRunPublic):
    candidates: Page[CandidatePublic]


# ---- routes -------------------------------------------------------------------------------


def _run_public(run: PruneRun) -> PruneRunPublic:
    return PruneRunPublic.model_validate(run, from_attributes=True)


def _detail(session: Session, run: PruneRun, paging: PageParams) -> PruneRunDetail:
    query = (
        select(PruneCandidate, Member.display_name)
        .join(Member, col(Member.id) == PruneCandidate.member_id)
        .where(PruneCandidate.run_id == run.id)
    )
    if paging.cursor:
        query = query.where(col(PruneCandidate.member_id) > decode_cursor(paging.cursor))
    rows = list(session.exec(query.order_by(col(PruneCandidate.member_id)).limit(paging.limit + 1)))
    more = len(rows) > paging.limit
    rows = rows[: paging.limit]
    page = Page(
        data=[
            CandidatePublic(
                member_id=c.member_id,
                display_name=name,
                participations=c.participations,
                missed=c.missed,
                outcome=c.outcome,
            )
            for c, name in rows
        ],
        next_cursor=encode_cursor(rows[-1][0].member_id) if more else None,
    )
    return PruneRunDetail(**_run_public(run).model_dump(), candidates=page)


@router.post(
    "/communities/{community_id}/prune-runs",
    status_code=201,
    response_model=PruneRunDetail,
    responses={200: {"model": PruneRunDetail, "description": "A dry run: nobody was removed."}},
)
def start_prune_run(
    community_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    actor: ActorDep,
    once: OnceDep,
    body: PruneRunIn | None = None,
) -> JSONResponse:
    """Apply the community's inactivity policy to the period before today: a dry run (200)
    lists who would go; a real run (201) removes them. Both are recorded with candidates.
    Works whether or not the policy is `enabled` (that only switches the scheduled runs)."""
    body = body or PruneRunIn()

    def create() -> tuple[int, PruneRunDetail]:
        community = service.get_community(
            session=session, workspace_id=workspace_id, community_id=community_id
        )
        run = run_prune(
            session=session, community=community, dry_run=body.dry_run, actor=actor, at=now()
        )
        first_page = PageParams(limit=200, cursor=None)
        return (200 if body.dry_run else 201), _detail(session, run, first_page)

    return once.run(body, create)


@router.get("/communities/{community_id}/prune-runs", response_model=Page[PruneRunPublic])
def list_prune_runs(
    community_id: str, session: SessionDep, workspace_id: WorkspaceDep, paging: Paging
) -> Page[PruneRunPublic]:
    """Every run of the community, oldest first."""
    community = service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id
    )
    rows, cursor = paginate(
        session,
        select(PruneRun).where(PruneRun.community_id == community.id),
        col(PruneRun.id),
        paging,
    )
    return Page(data=[_run_public(r) for r in rows], next_cursor=cursor)


@router.get("/communities/{community_id}/prune-runs/{run_id}", response_model=PruneRunDetail)
def get_prune_run(
    community_id: str, run_id: str, session: SessionDep, workspace_id: WorkspaceDep, paging: Paging
) -> PruneRunDetail:
    """A run with a page of its candidates (`limit`/`cursor` page the candidates)."""
    community = service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id
    )
    run = session.exec(
        select(PruneRun).where(PruneRun.id == run_id, PruneRun.community_id == community.id)
    ).one_or_none()
    if run is None:
        raise not_found("prune run", run_id)
    return _detail(session, run, paging)


@router.get("/communities/{community_id}/silent-members", response_model=Page[MemberPublic])
def silent_members(
    community_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    paging: Paging,
    since: Annotated[datetime, Query(description="No message since this time (UTC if naive).")],
) -> Page[MemberPublic]:
    """Active and muted members who have not spoken since `since`: whom to @-mention."""
    community = service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id
    )
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    query = select(Member).where(
        Member.workspace_id == community.workspace_id,
        Member.community_id == community.id,
        col(Member.status).in_(PRESENT),
        col(Member.last_active_at).is_(None) | (col(Member.last_active_at) < since),
    )
    rows, cursor = paginate(session, query, col(Member.id), paging)
    return Page(
        data=[service.member_public(session=session, member=m) for m in rows], next_cursor=cursor
    )
