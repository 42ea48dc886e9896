"""Communities and groups as members publishes them: enough to answer in a community's
timezone and to address a group's bot without calling members."""

from datetime import datetime

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
