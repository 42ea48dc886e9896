"""Leaderboards (排行榜) for the last 7 days, the last 30 days and all time.

A window is whole calendar days in the community's timezone, today included, so a board
does not shift through the day as entries age out by the hour. Ties go to the longer-standing
member (ids are time-ordered), so a board reads the same on every refresh.
"""

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from services.common import clock
from services.members.community.models import Community, Member
from services.members.incentives.models import Leaderboard, Period, PointsEntry, Standing
from services.members.vocabulary import PRESENT

DAYS = {Period.week: 7, Period.month: 30}


def window_start(period: Period, timezone: str, at: datetime) -> datetime | None:
    """Local midnight starting the window that ends at `at`, in UTC; None for all time."""
    if period == Period.all:
        return None
    return clock.days_back(at, timezone, DAYS[period]).start


def standings(
    *, session: Session, community: Community, period: Period, limit: int, at: datetime
) -> Leaderboard:
    """The top `limit` current members by points earned in the period."""
    since = window_start(period, community.timezone, at)
    base = select(Member).where(
        Member.community_id == community.id,
        Member.workspace_id == community.workspace_id,
        col(Member.status).in_(PRESENT),
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
