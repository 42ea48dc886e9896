"""Moderation cases and the API shapes of cases and policy checks."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from services.common.clock import now
from services.common.http.schemas import Instant, RequestModel
from services.members.tables import MembersTable, timestamp_column
from services.members.vocabulary import Role


class ModerationCase(MembersTable, table=True):
    __tablename__ = "moderation_case"
    __table_args__ = (
        sa.UniqueConstraint("group_id", "message_external_id", name="uq_moderation_case_message"),
        sa.Index("ix_moderation_case_member_time", "member_id", "occurred_at"),
        sa.Index("ix_moderation_case_community", "community_id", "id"),
    )

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    member_id: str
    group_id: str
    message_external_id: str
    event_id: str
    excerpt: str
    matches: list[dict[str, str]] = Field(sa_column=sa.Column(JSONB, nullable=False))
    strikes_before: int = Field(description="Active strikes before this one.")
    ladder_step: int = Field(description="0-based step of the ladder it chose.")
    action: str = Field(description="warn, mute, remove or ban: what was done.")
    mute_until: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    status: str = "counted"  # counted, dismissed
    occurred_at: datetime = Field(sa_column=timestamp_column())
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())
    dismissed_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    dismissed_by: str | None = None
    dismiss_reason: str | None = None


class MatchPublic(SQLModel):
    kind: str
    match: str


class CasePublic(SQLModel):
    id: str
    member_id: str
    group_id: str
    message_external_id: str
    excerpt: str
    matches: list[MatchPublic]
    strikes_before: int
    ladder_step: int
    action: str
    mute_until: datetime | None
    status: str
    occurred_at: datetime
    created_at: datetime
    dismissed_at: datetime | None
    dismissed_by: str | None
    dismiss_reason: str | None


class DismissIn(RequestModel):
    reason: str | None = Field(default=None, max_length=500)


class CheckIn(RequestModel):
    text: str = Field(default="", max_length=20_000)
    flags: list[str] = Field(default_factory=list, max_length=20)
    role: Role = Role.member
    at: Instant | None = Field(default=None, description="Defaults to now (ad windows).")


class CheckOut(SQLModel):
    violation: bool
    matches: list[MatchPublic]
