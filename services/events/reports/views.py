"""The report route: JSON, or Markdown with `?format=markdown` or `Accept: text/markdown`."""

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import PlainTextResponse

from services.common.clock import now
from services.common.db import SessionDep
from services.events.activities.service import activity_of
from services.events.deps import CommunityDep
from services.events.reports.models import Report
from services.events.reports.service import as_markdown, build_report

router = APIRouter(prefix="/v1/communities/{community_id}/activities", tags=["reports"])


@router.get(
    "/{activity_id}/report",
    response_model=Report,
    responses={200: {"content": {"text/markdown": {}}}},
)
def get_report(
    activity_id: str,
    community: CommunityDep,
    session: SessionDep,
    format: Annotated[Literal["json", "markdown"] | None, Query()] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Report | PlainTextResponse:
    """Registrations, waiting list, attendance and no-shows, new members, feedback and NPS,
    budget against spending, KPI targets against results."""
    activity = activity_of(session, community=community, activity_id=activity_id)
    built = build_report(session, community=community, activity=activity, now=now())
    if format == "markdown" or (format is None and accept and "text/markdown" in accept):
        return PlainTextResponse(as_markdown(built), media_type="text/markdown; charset=utf-8")
    return built
