"""Chat activity: what bots report from the groups, folded into each member's record."""

from datetime import date

import sqlalchemy as sa
from sqlmodel import Field

from services.members.models import MembersTable


class ActivityDay(MembersTable, table=True):
    """One member's participation on one day (in the community's timezone): the basis of
    streaks of activity, the lifecycle's "active on N days", and inactivity pruning."""

    __tablename__ = "member_activity_day"
    __table_args__ = (sa.Index("ix_member_activity_day_community_day", "community_id", "day"),)

    member_id: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    workspace_id: str
    community_id: str
    messages: int = 0
