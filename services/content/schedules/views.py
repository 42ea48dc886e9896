"""Schedules: create, list, change, pause, resume, and their occurrences."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse
from sqlmodel import col

from services.common import clock
from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import ActorDep, WorkspaceDep
from services.common.http.pagination import Page, Paging, desc, paginate
from services.common.http.problems import problem_responses
from services.content.deps import CommunityDep
from services.content.problems import (
    ContentNotApproved,
    ContentStateConflict,
    InvalidRecurrence,
    OccurrenceWindowInvalid,
    QuietHoursIncomplete,
    ScheduleTargetInvalid,
    ScheduleTimezoneUnknown,
)
from services.content.replica import service as replica
from services.content.schedules import service
from services.content.schedules.models import (
    OccurrenceList,
    Schedule,
    ScheduleCreate,
    SchedulePublic,
    ScheduleState,
    ScheduleUpdate,
)

router = APIRouter(prefix="/v1", tags=["schedules"])


@router.post(
    "/communities/{community_id}/schedules",
    status_code=status.HTTP_201_CREATED,
    response_model=SchedulePublic,
    responses=problem_responses(
        ContentNotApproved,
        InvalidRecurrence,
        ScheduleTimezoneUnknown,
        ScheduleTargetInvalid,
        QuietHoursIncomplete,
    ),
)
def create_schedule(
    body: ScheduleCreate,
    community: CommunityDep,
    session: SessionDep,
    actor: ActorDep,
    once: OnceDep,
) -> JSONResponse:
    """Plan a one-off post (no `rrule`) or a recurring one, in the community's timezone."""

    def create() -> tuple[int, SchedulePublic]:
        schedule = service.create_schedule(
            session, community=community, schedule_in=body, actor=actor
        )
        return 201, service.public(schedule)

    return once.run(body, create)


@router.get("/communities/{community_id}/schedules", response_model=Page[SchedulePublic])
def list_schedules(
    community: CommunityDep,
    session: SessionDep,
    paging: Paging,
    state: ScheduleState | None = None,
) -> Page[SchedulePublic]:
    rows, cursor = paginate(
        session,
        service.list_schedules(community=community, state=state),
        desc(col(Schedule.id)),
        paging,
    )
    return Page(data=[service.public(s) for s in rows], next_cursor=cursor)


@router.get("/schedules/{schedule_id}", response_model=SchedulePublic)
def get_schedule(
    schedule_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> SchedulePublic:
    return service.public(
        service.get_schedule(session, workspace_id=workspace_id, schedule_id=schedule_id)
    )


@router.patch(
    "/schedules/{schedule_id}",
    response_model=SchedulePublic,
    responses=problem_responses(
        ContentStateConflict,
        ContentNotApproved,
        InvalidRecurrence,
        ScheduleTimezoneUnknown,
        ScheduleTargetInvalid,
        QuietHoursIncomplete,
    ),
)
def update_schedule(
    schedule_id: str, body: ScheduleUpdate, session: SessionDep, workspace_id: WorkspaceDep
) -> SchedulePublic:
    """Change a schedule; its next occurrence is planned again from now."""
    schedule = service.get_schedule(
        session, workspace_id=workspace_id, schedule_id=schedule_id, for_update=True
    )
    community = replica.get_community(
        session, workspace_id=workspace_id, community_id=schedule.community_id
    )
    service.update_schedule(session, schedule=schedule, community=community, update=body)
    session.commit()
    return service.public(schedule)


@router.post(
    "/schedules/{schedule_id}/pause",
    response_model=SchedulePublic,
    responses=problem_responses(ContentStateConflict),
)
def pause_schedule(
    schedule_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> SchedulePublic:
    schedule = service.get_schedule(
        session, workspace_id=workspace_id, schedule_id=schedule_id, for_update=True
    )
    service.pause_schedule(session, schedule=schedule)
    session.commit()
    return service.public(schedule)


@router.post(
    "/schedules/{schedule_id}/resume",
    response_model=SchedulePublic,
    responses=problem_responses(ContentStateConflict),
)
def resume_schedule(
    schedule_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> SchedulePublic:
    """Fire again from the next occurrence after now; the paused ones are not caught up."""
    schedule = service.get_schedule(
        session, workspace_id=workspace_id, schedule_id=schedule_id, for_update=True
    )
    service.resume_schedule(session, schedule=schedule)
    session.commit()
    return service.public(schedule)


@router.get(
    "/schedules/{schedule_id}/occurrences",
    response_model=OccurrenceList,
    responses=problem_responses(OccurrenceWindowInvalid),
)
def list_occurrences(
    schedule_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    start: Annotated[
        datetime,
        Query(alias="from", description="RFC 3339; without an offset, local to the schedule."),
    ],
    end: Annotated[datetime, Query(alias="to", description="Exclusive, like `from`.")],
) -> OccurrenceList:
    """Occurrences in [from, to) exactly as they fire, in local time and UTC: EXDATEs and quiet
    hours left out, DST applied. At most 366 days and 1000 occurrences per call."""
    schedule = service.get_schedule(session, workspace_id=workspace_id, schedule_id=schedule_id)
    zone = clock.zone(schedule.timezone)

    def instant(value: datetime) -> datetime:
        return value.replace(tzinfo=zone) if value.tzinfo is None else value

    return OccurrenceList(
        schedule_id=schedule.id,
        timezone=schedule.timezone,
        state=schedule.state,  # type: ignore[arg-type]
        occurrences=service.occurrences(schedule, start=instant(start), end=instant(end)),
    )
