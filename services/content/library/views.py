"""Content items: create, list, edit, review, archive, revisions."""

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse
from sqlmodel import col

from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import ActorDep, WorkspaceDep
from services.common.http.pagination import Page, Paging, desc, paginate
from services.common.http.problems import problem_responses
from services.content.deps import CommunityDep
from services.content.library import service
from services.content.library.models import (
    ContentCreate,
    ContentItem,
    ContentKind,
    ContentPublic,
    ContentRevision,
    ContentStatus,
    ContentUpdate,
    Review,
    RevisionPublic,
)
from services.content.problems import ContentStateConflict

router = APIRouter(prefix="/v1", tags=["content"])


def _public(item: ContentItem) -> ContentPublic:
    return ContentPublic.model_validate(item, from_attributes=True)


@router.post(
    "/communities/{community_id}/contents",
    status_code=status.HTTP_201_CREATED,
    response_model=ContentPublic,
)
def create_content(
    body: ContentCreate,
    community: CommunityDep,
    session: SessionDep,
    actor: ActorDep,
    once: OnceDep,
) -> JSONResponse:
    """Write a content item; it starts as a draft."""

    def create() -> tuple[int, ContentPublic]:
        item = service.create_item(session, community=community, item_in=body, actor=actor)
        return 201, _public(item)

    return once.run(body, create)


@router.get("/communities/{community_id}/contents", response_model=Page[ContentPublic])
def list_contents(
    community: CommunityDep,
    session: SessionDep,
    paging: Paging,
    status: ContentStatus | None = None,
    kind: ContentKind | None = None,
    tag: Annotated[str | None, Query(max_length=60)] = None,
) -> Page[ContentPublic]:
    """The community's content, newest first, filtered by status, kind or tag."""
    rows, cursor = paginate(
        session,
        service.list_items(community=community, status=status, kind=kind, tag=tag),
        desc(col(ContentItem.id)),
        paging,
    )
    return Page(data=[_public(i) for i in rows], next_cursor=cursor)


@router.get("/contents/{item_id}", response_model=ContentPublic)
def get_content(item_id: str, session: SessionDep, workspace_id: WorkspaceDep) -> ContentPublic:
    return _public(service.get_item(session, workspace_id=workspace_id, item_id=item_id))


@router.patch(
    "/contents/{item_id}",
    response_model=ContentPublic,
    responses=problem_responses(ContentStateConflict),
)
def edit_content(
    item_id: str,
    body: ContentUpdate,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    actor: ActorDep,
) -> ContentPublic:
    """Edit an item. The previous text is kept as a revision; an approved item goes back to
    review."""
    item = service.get_item(session, workspace_id=workspace_id, item_id=item_id, for_update=True)
    service.edit_item(session, item=item, update=body, actor=actor)
    session.commit()
    return _public(item)


@router.post(
    "/contents/{item_id}/submit",
    response_model=ContentPublic,
    responses=problem_responses(ContentStateConflict),
)
def submit_content(item_id: str, session: SessionDep, workspace_id: WorkspaceDep) -> ContentPublic:
    """Send a draft to review."""
    item = service.get_item(session, workspace_id=workspace_id, item_id=item_id, for_update=True)
    service.submit_item(session, item=item)
    session.commit()
    return _public(item)


@router.post(
    "/contents/{item_id}/review",
    response_model=ContentPublic,
    responses=problem_responses(ContentStateConflict),
)
def review_content(
    item_id: str, body: Review, session: SessionDep, workspace_id: WorkspaceDep, actor: ActorDep
) -> ContentPublic:
    """Approve an item under review, or send it back as a draft with a comment."""
    item = service.get_item(session, workspace_id=workspace_id, item_id=item_id, for_update=True)
    service.review_item(session, item=item, review=body, actor=actor)
    session.commit()
    return _public(item)


@router.post(
    "/contents/{item_id}/archive",
    response_model=ContentPublic,
    responses=problem_responses(ContentStateConflict),
)
def archive_content(item_id: str, session: SessionDep, workspace_id: WorkspaceDep) -> ContentPublic:
    """Retire an item; schedules that name it skip their occurrences from now on."""
    item = service.get_item(session, workspace_id=workspace_id, item_id=item_id, for_update=True)
    service.archive_item(session, item=item)
    session.commit()
    return _public(item)


@router.get("/contents/{item_id}/revisions", response_model=Page[RevisionPublic])
def list_revisions(
    item_id: str, session: SessionDep, workspace_id: WorkspaceDep, paging: Paging
) -> Page[RevisionPublic]:
    """Earlier states of the item, newest first."""
    item = service.get_item(session, workspace_id=workspace_id, item_id=item_id)
    rows, cursor = paginate(
        session,
        service.revisions_query(item=item),
        desc(col(ContentRevision.revision)),
        paging,
    )
    return Page(
        data=[RevisionPublic.model_validate(r, from_attributes=True) for r in rows],
        next_cursor=cursor,
    )
