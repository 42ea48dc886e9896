"""SOP playbooks: create, list, read, edit, deactivate, and their runs with per-step state."""

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from sqlmodel import col, select

from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import ActorDep, WorkspaceDep
from services.common.http.pagination import Page, Paging, desc, paginate
from services.common.http.problems import problem_responses
from services.content.deps import CommunityDep
from services.content.playbooks import service
from services.content.playbooks.models import (
    Playbook,
    PlaybookCreate,
    PlaybookPublic,
    PlaybookRun,
    PlaybookUpdate,
    RunPublic,
)
from services.content.problems import ContentNotApproved, ContentStateConflict

router = APIRouter(prefix="/v1", tags=["playbooks"])


@router.post(
    "/communities/{community_id}/sops",
    status_code=status.HTTP_201_CREATED,
    response_model=PlaybookPublic,
    responses=problem_responses(ContentNotApproved),
)
def create_playbook(
    body: PlaybookCreate,
    community: CommunityDep,
    session: SessionDep,
    actor: ActorDep,
    once: OnceDep,
) -> JSONResponse:
    """A playbook: steps timed from an anchor, started for every new anchor from now on."""

    def create() -> tuple[int, PlaybookPublic]:
        playbook = service.create_playbook(
            session, community=community, playbook_in=body, actor=actor
        )
        return 201, service.public(playbook)

    return once.run(body, create)


@router.get("/communities/{community_id}/sops", response_model=Page[PlaybookPublic])
def list_playbooks(
    community: CommunityDep, session: SessionDep, paging: Paging
) -> Page[PlaybookPublic]:
    query = select(Playbook).where(
        Playbook.workspace_id == community.workspace_id, Playbook.community_id == community.id
    )
    rows, cursor = paginate(session, query, desc(col(Playbook.id)), paging)
    return Page(data=[service.public(p) for p in rows], next_cursor=cursor)


@router.get("/sops/{playbook_id}", response_model=PlaybookPublic)
def get_playbook(
    playbook_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> PlaybookPublic:
    return service.public(
        service.get_playbook(session, workspace_id=workspace_id, playbook_id=playbook_id)
    )


@router.patch(
    "/sops/{playbook_id}",
    response_model=PlaybookPublic,
    responses=problem_responses(ContentStateConflict, ContentNotApproved),
)
def edit_playbook(
    playbook_id: str, body: PlaybookUpdate, session: SessionDep, workspace_id: WorkspaceDep
) -> PlaybookPublic:
    """Change a playbook's name, groups, steps or end actions. Runs under way keep their
    planned times; their steps not yet sent follow the new steps (those past the new last
    step are cancelled); new anchors start runs of the new definition."""
    playbook = service.get_playbook(
        session, workspace_id=workspace_id, playbook_id=playbook_id, for_update=True
    )
    service.update_playbook(session, playbook=playbook, update=body)
    answer = service.public(playbook)
    session.commit()
    return answer


@router.post(
    "/sops/{playbook_id}/deactivate",
    response_model=PlaybookPublic,
    responses=problem_responses(ContentStateConflict),
)
def deactivate_playbook(
    playbook_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> PlaybookPublic:
    """Stop a playbook for good: it starts no run again, and its runs under way are cancelled
    with their pending steps (reason `playbook deactivated`)."""
    playbook = service.get_playbook(
        session, workspace_id=workspace_id, playbook_id=playbook_id, for_update=True
    )
    service.deactivate_playbook(session, playbook=playbook)
    answer = service.public(playbook)
    session.commit()
    return answer


@router.get("/sops/{playbook_id}/runs", response_model=Page[RunPublic])
def list_runs(
    playbook_id: str, session: SessionDep, workspace_id: WorkspaceDep, paging: Paging
) -> Page[RunPublic]:
    """The playbook's runs, newest first, each with its steps' state."""
    playbook = service.get_playbook(session, workspace_id=workspace_id, playbook_id=playbook_id)
    rows, cursor = paginate(
        session, service.runs_query(playbook=playbook), desc(col(PlaybookRun.id)), paging
    )
    return Page(data=service.runs_public(session, runs=rows), next_cursor=cursor)
