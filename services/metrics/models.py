"""Metrics' own read models, fed from Kafka; never read from another service's tables."""

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class MetricsTable(SQLModel, registry=registry()):
    """Base of this service's tables: its own metadata, apart from other services'."""


class CommunityOverview(MetricsTable, table=True):
    __tablename__ = "community_overview"

    community_id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    members_total: int = 0
    updated_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        sa_column=Column(DateTime(timezone=True), nullable=False),
    )


class MemberPresence(MetricsTable, table=True):
    """Whether each member is in their community now, and when they (last) joined."""

    __tablename__ = "member_presence"

    member_id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    present: bool
    joined_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class OverviewPublic(SQLModel):
    community_id: str
    members_total: int
    members_joined_7d: int
    updated_at: datetime
