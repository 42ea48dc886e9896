"""What several routers share: the caller's community or group, found in the caller's
workspace only (another workspace's is a 404, never a 403)."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated

from fastapi import Depends, Path, Query
from sqlmodel import Session, select

from services.common.clock import local_day, now
from services.common.db import SessionDep
from services.common.http.identity import WorkspaceDep
from services.common.http.schemas import DateText
from services.metrics import problems
from services.metrics.replica.models import ChatGroup, Community


def community_of_caller(
    community_id: Annotated[str, Path(max_length=64)],
    session: SessionDep,
    workspace_id: WorkspaceDep,
) -> Community:
    community = find_community(session, workspace_id=workspace_id, community_id=community_id)
    if community is None:
        raise problems.community_not_found(community_id)
    return community


def find_community(session: Session, *, workspace_id: str, community_id: str) -> Community | None:
    return session.exec(
        select(Community).where(
            Community.community_id == community_id, Community.workspace_id == workspace_id
        )
    ).one_or_none()


def group_of_caller(
    group_id: Annotated[str, Path(max_length=64)],
    community: "CommunityDep",
    session: SessionDep,
) -> ChatGroup:
    group = session.exec(
        select(ChatGroup).where(
            ChatGroup.group_id == group_id, ChatGroup.community_id == community.community_id
        )
    ).one_or_none()
    if group is None:
        raise problems.group_not_found(group_id)
    return group


CommunityDep = Annotated[Community, Depends(community_of_caller)]
GroupDep = Annotated[ChatGroup, Depends(group_of_caller)]


# The longest range one request answers: two years of days.
MAX_DAYS = 731
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class DayRange:
    first: date
    last: date


def day_range(
    community: CommunityDep,
    first: Annotated[
        DateText | None,
        Query(alias="from", description="First local day (default: 29 days before `to`)."),
    ] = None,
    last: Annotated[
        DateText | None, Query(alias="to", description="Last local day, included (default: today).")
    ] = None,
) -> DayRange:
    """Local days in the community's timezone, both ends included."""
    last = last or local_day(now(), community.timezone)
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise problems.range_invalid("`from` is after `to`")
    if (last - first).days + 1 > MAX_DAYS:
        raise problems.range_invalid(f"a range holds at most {MAX_DAYS} days")
    return DayRange(first, last)


DayRangeDep = Annotated[DayRange, Depends(day_range)]
