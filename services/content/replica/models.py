"""Communities and groups as members publishes them: enough to answer in a community's
timezone and to address a group's bot without calling members. Activities as the events
service plans them, for the calendar."""

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field

from services.content.tables import ContentTable, now, timestamp_column


class Community(ContentTable, table=True):
    __tablename__ = "community"

    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    name: str
    purpose: str
    timezone: str
    # The `updated_at` of the event this row was last written from: an older event never
    # overwrites a newer one, whatever order they arrive in.
    source_updated_at: datetime = Field(sa_column=timestamp_column())
    replicated_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class Group(ContentTable, table=True):
    __tablename__ = "chat_group"

    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    community_id: str = Field(index=True)
    platform: str
    external_id: str
    name: str
    kind: str
    state: str
    source_updated_at: datetime = Field(sa_column=timestamp_column())
    dissolved_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class MemberIdentity(ContentTable, table=True):
    """Who a platform identity is, from members' join events: a bot names a person by their
    platform id; a submission credits a member id."""

    __tablename__ = "member_identity"

    community_id: str = Field(primary_key=True)
    platform: str = Field(primary_key=True)
    external_id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    member_id: str = Field(index=True)


class PlannedActivity(ContentTable, table=True):
    """An activity as the events service last announced its plan, for the calendar."""

    __tablename__ = "activity"

    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    community_id: str = Field(index=True)
    kind: str
    title: str
    status: str
    place: str | None = None
    online_url: str | None = None
    group_id: str | None = None
    source_updated_at: datetime = Field(sa_column=timestamp_column())


class PlannedSession(ContentTable, table=True):
    """One session of a planned activity; replaced whole with each newer plan."""

    __tablename__ = "activity_session"
    # The calendar asks for one community's sessions in a window.
    __table_args__ = (Index("ix_activity_session_community_starts", "community_id", "starts_at"),)

    id: str = Field(primary_key=True)
    activity_id: str = Field(index=True)
    workspace_id: str
    community_id: str
    starts_at: datetime = Field(sa_column=timestamp_column())
    ends_at: datetime = Field(sa_column=timestamp_column())
    status: str
