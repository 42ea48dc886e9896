"""Metrics' copies of what other services own: communities, groups, members and who is in
which group. Upserted from their events; never read from another service's tables."""

from datetime import datetime

from sqlalchemy import Column, DateTime, UniqueConstraint
from sqlmodel import Field

from services.metrics.tables import MetricsTable


def _at(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class Community(MetricsTable, table=True):
    """A community as metrics needs it: its zone decides which day a message lands on, its
    purpose picks the alert thresholds."""

    __tablename__ = "community"

    community_id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    name: str
    purpose: str
    timezone: str
    members_total: int = 0
    created_at: datetime = Field(sa_column=_at())
    # The `updated_at` of the newest event applied: an older one never overwrites it.
    updated_at: datetime = Field(sa_column=_at())


class ChatGroup(MetricsTable, table=True):
    """A chat group; bots name it by (platform, external id), so messages are matched here."""

    __tablename__ = "chat_group"
    __table_args__ = (UniqueConstraint("workspace_id", "platform", "external_id"),)

    group_id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(index=True)
    platform: str
    external_id: str
    name: str
    kind: str
    state: str = "open"
    members_total: int = 0
    created_at: datetime = Field(sa_column=_at())
    updated_at: datetime = Field(sa_column=_at())


class Member(MetricsTable, table=True):
    """A member: whether they are in now, their role (operators' and bots' messages are
    counted apart) and their lifecycle stage since when."""

    __tablename__ = "member"

    member_id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(index=True)
    role: str = "member"
    stage: str = "joined"
    stage_since: datetime = Field(sa_column=_at())
    present: bool = True
    joined_at: datetime = Field(sa_column=_at())
    left_at: datetime | None = Field(default=None, sa_column=_at(nullable=True))
    referred_by: str | None = None


class MemberIdentity(MetricsTable, table=True):
    """Which member a platform account is; a bot reports senders by account only."""

    __tablename__ = "member_identity"

    community_id: str = Field(primary_key=True)
    speaker: str = Field(primary_key=True)  # "platform:external_id"
    member_id: str = Field(index=True)


class GroupPresence(MetricsTable, table=True):
    """Who is in a chat group now, as its bot reports joins and leaves."""

    __tablename__ = "group_presence"

    group_id: str = Field(primary_key=True)
    speaker: str = Field(primary_key=True)
    present: bool
    joined_at: datetime = Field(sa_column=_at())


class StageChange(MetricsTable, table=True):
    """One step of a member along the lifecycle (rule 3), kept for the funnel."""

    __tablename__ = "stage_change"

    event_id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(index=True)
    member_id: str
    from_stage: str
    to_stage: str
    changed_at: datetime = Field(sa_column=_at())


def speaker_key(platform: str, external_id: str) -> str:
    """How metrics names one person's account on one platform."""
    return f"{platform}:{external_id}"
