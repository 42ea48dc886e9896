"""Inactivity pruning (DOMAIN.md rule 8): who took part too little in a period is removed.

Operators start runs by hand (a dry run first, to see who would go) and read every run with
its candidates; the policy's runs also start by themselves once per period (JOBS). Real runs
remove through `states.apply_move`, which records and announces each removal. The list of
silent members serves the other half of the rule: @-mentioning those who have not spoken.
"""

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlmodel import Session, col

from services.common.clock import now
from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import ActorDep
from services.common.http.pagination import (
    Page,
    PageParams,
    Paging,
    paginate,
)
from services.common.http.schemas import DateTimeText
from services.members.community import members
from services.members.community.models import Member, MemberPublic
from services.members.deps import CommunityDep, located
from services.members.pruning import service
from services.members.pruning.models import (
    CandidatePublic,
    PruneCandidate,
    PruneRun,
    PruneRunDetail,
    PruneRunIn,
    PruneRunPublic,
)

router = APIRouter(prefix="/v1/communities/{community_id}", tags=["pruning"])


def _run_public(run: PruneRun) -> PruneRunPublic:
    return PruneRunPublic.model_validate(run, from_attributes=True)


def _detail(session: Session, run: PruneRun, paging: PageParams) -> PruneRunDetail:
    query = service.candidates_query(run=run)
    rows, cursor = paginate(session, query, col(PruneCandidate.member_id), paging)
    page = Page(
        data=[
            CandidatePublic(
                member_id=c.member_id,
                display_name=name,
                participations=c.participations,
                missed=c.missed,
                outcome=c.outcome,
            )
            for c, name, _ in rows
        ],
        next_cursor=cursor,
    )
    return PruneRunDetail(**_run_public(run).model_dump(), candidates=page)


@router.post(
    "/prune-runs",
    status_code=201,
    response_model=PruneRunDetail,
    responses={200: {"model": PruneRunDetail, "description": "A dry run: nobody was removed."}},
)
def start_prune_run(
    community: CommunityDep,
    session: SessionDep,
    actor: ActorDep,
    once: OnceDep,
    body: PruneRunIn | None = None,
) -> JSONResponse:
    """Apply the community's inactivity policy to the period before today: a dry run (200,
    the default) lists who would go; a real run (`"dry_run": false`, 201) removes them. Both
    are recorded with candidates.
    Works whether or not the policy is `enabled` (that only switches the scheduled runs)."""
    body = body or PruneRunIn()

    def create() -> tuple[int, PruneRunDetail]:
        run = service.run_prune(
            session=session, community=community, dry_run=body.dry_run, actor=actor, at=now()
        )
        first_page = PageParams(limit=200, cursor=None)
        return (200 if body.dry_run else 201), _detail(session, run, first_page)

    return located(once.run(body, create), f"/v1/communities/{community.id}/prune-runs/{{id}}")


@router.get("/prune-runs", response_model=Page[PruneRunPublic])
def list_prune_runs(
    community: CommunityDep, session: SessionDep, paging: Paging
) -> Page[PruneRunPublic]:
    """Every run of the community, oldest first."""
    query = service.runs_query(community=community)
    rows, cursor = paginate(session, query, col(PruneRun.id), paging)
    return Page(data=[_run_public(r) for r in rows], next_cursor=cursor)


@router.get("/prune-runs/{run_id}", response_model=PruneRunDetail)
def get_prune_run(
    community: CommunityDep, run_id: str, session: SessionDep, paging: Paging
) -> PruneRunDetail:
    """A run with a page of its candidates (`limit`/`cursor` page the candidates)."""
    run = service.get_run(session=session, community=community, run_id=run_id)
    return _detail(session, run, paging)


@router.get("/silent-members", response_model=Page[MemberPublic])
def silent_members(
    community: CommunityDep,
    session: SessionDep,
    paging: Paging,
    since: Annotated[DateTimeText, Query(description="No message since this time (UTC if naive).")],
) -> Page[MemberPublic]:
    """Active and muted members who have not spoken since `since`: whom to @-mention."""
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    query = service.silent_query(community=community, since=since)
    rows, cursor = paginate(session, query, col(Member.id), paging)
    return Page(
        data=[members.member_public(session=session, member=m) for m in rows], next_cursor=cursor
    )
