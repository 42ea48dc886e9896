"""The local replica of what members owns and this service must answer on its own: which
communities exist (and their timezone), their groups, who is a member (status, role, level,
tags) and by which platform identities bots know them. Written only from members' events."""

from datetime import datetime

from sqlalchemy import Column, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field

from services.events.tables import EventsTable, timestamp_column

# Statuses in which a person still counts as a member of the community.
MEMBER_STATUSES = frozenset({"active", "muted"})


class Community(EventsTable, table=True):
    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    name: str
    purpose: str
    timezone: str
    updated_at: datetime = Field(sa_column=timestamp_column())


class ChatGroup(EventsTable, table=True):
    __tablename__ = "chat_group"

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(index=True)
    platform: str
    external_id: str
    name: str
    kind: str
    state: str
    capacity: int
    dissolve_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    updated_at: datetime = Field(sa_column=timestamp_column())


class Member(EventsTable, table=True):
    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(index=True)
    display_name: str = ""
    # lead (aware, not joined yet), active, muted, removed, banned, merged
    status: str
    role: str = "member"
    level: int = 0
    tags: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    merged_into: str | None = None
    joined_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    updated_at: datetime = Field(sa_column=timestamp_column())

    @property
    def is_member(self) -> bool:
        return self.status in MEMBER_STATUSES


class MemberIdentity(EventsTable, table=True):
    """How bots name a member: (platform, external id) within a community."""

    __tablename__ = "member_identity"

    community_id: str = Field(primary_key=True)
    platform: str = Field(primary_key=True)
    external_id: str = Field(primary_key=True)
    member_id: str = Field(index=True)
    workspace_id: str
