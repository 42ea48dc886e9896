"""Chat activity: the days members took part on and the messages seen (tables)."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field

from services.members.tables import MembersTable, timestamp_column


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


class ActivityMessage(MembersTable, table=True):
    """Each message seen, once: a bot pushing one message twice changes nothing the second
    time. Also the basis of "N messages in the first days after joining"."""

    __tablename__ = "activity_message"
    __table_args__ = (sa.Index("ix_activity_message_member_time", "member_id", "occurred_at"),)

    group_id: str = Field(primary_key=True)
    message_external_id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    member_id: str
    event_id: str
    occurred_at: datetime = Field(sa_column=timestamp_column())
