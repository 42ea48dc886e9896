"""The community's content calendar."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from services.common import clock
from services.common.db import SessionDep
from services.common.http.problems import problem_responses
from services.content.calendar import service
from services.content.calendar.models import Calendar
from services.content.deps import CommunityDep
from services.content.problems import OccurrenceWindowInvalid

router = APIRouter(prefix="/v1", tags=["calendar"])


@router.get(
    "/communities/{community_id}/calendar",
    response_model=Calendar,
    responses=problem_responses(OccurrenceWindowInvalid),
)
def get_calendar(
    community: CommunityDep,
    session: SessionDep,
    start: Annotated[
        datetime,
        Query(alias="from", description="RFC 3339; without an offset, the community's time."),
    ],
    end: Annotated[datetime, Query(alias="to", description="Exclusive, like `from`.")],
) -> Calendar:
    """Schedule occurrences (planned, or what became of them), SOP steps due and the
    sessions of the community's published activities in [from, to), in the community's
    timezone, each with what it is and where it goes. At most 92 days."""
    zone = clock.zone(community.timezone)

    def instant(value: datetime) -> datetime:
        return value.replace(tzinfo=zone) if value.tzinfo is None else value

    return service.calendar(session, community=community, start=instant(start), end=instant(end))
