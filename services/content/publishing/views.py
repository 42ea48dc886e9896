"""What a schedule has done: its handled occurrences and its publications."""

from fastapi import APIRouter
from sqlmodel import col, select

from services.common.db import SessionDep
from services.common.http.identity import WorkspaceDep
from services.common.http.pagination import Page, Paging, desc, paginate
from services.content.publishing.models import (
    OccurrenceRecord,
    OccurrenceRecordPublic,
    Publication,
    PublicationPublic,
    PublicationStatus,
)
from services.content.schedules import service as schedules

router = APIRouter(prefix="/v1", tags=["publishing"])


@router.get("/schedules/{schedule_id}/publications", response_model=Page[PublicationPublic])
def list_publications(
    schedule_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    paging: Paging,
    status: PublicationStatus | None = None,
) -> Page[PublicationPublic]:
    """The schedule's publications, newest first, with each one's result."""
    schedule = schedules.get_schedule(session, workspace_id=workspace_id, schedule_id=schedule_id)
    query = select(Publication).where(
        Publication.workspace_id == workspace_id, Publication.schedule_id == schedule.id
    )
    if status is not None:
        query = query.where(Publication.status == status)
    rows, cursor = paginate(session, query, desc(col(Publication.id)), paging)
    return Page(
        data=[PublicationPublic.model_validate(p, from_attributes=True) for p in rows],
        next_cursor=cursor,
    )


@router.get("/schedules/{schedule_id}/history", response_model=Page[OccurrenceRecordPublic])
def list_history(
    schedule_id: str, session: SessionDep, workspace_id: WorkspaceDep, paging: Paging
) -> Page[OccurrenceRecordPublic]:
    """Occurrences already handled, newest first: dispatched (late or not), skipped with the
    reason (missed after downtime, queue empty, ...), or failed."""
    schedule = schedules.get_schedule(session, workspace_id=workspace_id, schedule_id=schedule_id)
    query = select(OccurrenceRecord).where(
        OccurrenceRecord.workspace_id == workspace_id, OccurrenceRecord.schedule_id == schedule.id
    )
    rows, cursor = paginate(
        session,
        query,
        [desc(col(OccurrenceRecord.occurs_at)), desc(col(OccurrenceRecord.id))],
        paging,
    )
    return Page(
        data=[OccurrenceRecordPublic.model_validate(o, from_attributes=True) for o in rows],
        next_cursor=cursor,
    )
