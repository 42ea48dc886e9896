"""Leaderboards (排行榜) for the last 7 days, the last 30 days and all time.

A window is whole calendar days in the community's timezone, today included, so a board
does not shift through the day as entries age out by the hour. Ties go to the longer-standing
member (ids are time-ordered), so a board reads the same on every refresh.
"""

from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import Session, col, func, select

from services.common.db import SessionDep
from services.common.http.identity import WorkspaceDep
from services.members import service
from services.members.models import Community, Member, MemberStatus, now
from services.members.points_ledger import PointsEntry

router = APIRouter(tags=["leaderboards"])

CURRENT = (MemberStatus.active, MemberStatus.muted)


class Period(StrEnum):
    week = "7d"
    month = "30d"
    all = "all"


DAYS = {Period.week: 7, Period.month: 30}


class Standing(BaseModel):
    rank: int
    member_id: str
    display_name: str
    level: int
    points: int


class Leaderboard(BaseModel):
    period: Period
    since: datetime | None
    data: list[Standing]


def window_start(period: Period, timezone: str, at: datetime) -> datetime | None:
    """Local midnight starting the window that ends at `at`, in UTC; None for all time."""
    if period == Period.all:
        return None
    zone = ZoneInfo(timezone)
    first_day = at.astimezone(zone).date() - timedelta(days=DAYS[period] - 1)
    return datetime.combine(first_day, time(), tzinfo=zone).astimezone(UTC)


def standings(
    *, session: Session, community: Community, period: Period, limit: int, at: datetime
) -> Leaderboard:
    """The top `limit` current members by points earned in the period."""
    since = window_start(period, community.timezone, at)
    base = select(Member).where(
        Member.community_id == community.id,
        Member.workspace_id == community.workspace_id,
        col(Member.status).in_(CURRENT),
    )
    query: Any
    if since is None:
        points: Any = col(Member.points)
        query = base.add_columns(points).where(points > 0)
    else:
        earned = (
            select(PointsEntry.member_id, func.sum(PointsEntry.amount).label("points"))
            .where(
                PointsEntry.community_id == community.id,
                col(PointsEntry.created_at) >= since,
                col(PointsEntry.created_at) <= at,
            )
            .group_by(col(PointsEntry.member_id))
            .subquery()
        )
        points = earned.c.points
        query = (
            base.add_columns(points).join(earned, earned.c.member_id == Member.id).where(points > 0)
        )
    rows = session.execute(query.order_by(points.desc(), col(Member.id)).limit(limit)).all()
    return Leaderboard(
        period=period,
        since=since,
        data=[
            Standing(
                rank=rank,
                member_id=member.id,
                display_name=member.display_name,
                level=member.level,
                points=int(total),
            )
            for rank, (member, total) in enumerate(rows, start=1)
        ],
    )


@router.get("/communities/{community_id}/leaderboard", response_model=Leaderboard)
def leaderboard(
    community_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    period: Period = Period.week,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> Leaderboard:
    """Current (active or muted) members ranked by points earned in the period: `7d` and `30d`
    sum the ledger over whole days in the community's timezone, `all` is the member's total."""
    community = service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id
    )
    return standings(session=session, community=community, period=period, limit=limit, at=now())
