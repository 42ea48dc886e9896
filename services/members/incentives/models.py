"""Incentives: the points ledger, badges and their awards (tables), and the API shapes of
points, levels, badges and leaderboards."""

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, model_validator
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Column, Field

from services.common.clock import now
from services.common.http.schemas import Int32, RequestModel
from services.members.tables import MembersTable, timestamp_column


class AdjustmentIn(RequestModel):
    amount: Int32 = Field(description="Points to add (positive) or take away (negative); not 0.")
    reason: str = Field(min_length=1, max_length=500, description="Why, kept on the entry.")


class EntryPublic(BaseModel):
    id: str
    amount: int
    reason: str
    source_id: str
    note: str | None
    actor: str
    created_at: datetime


class AdjustmentPublic(BaseModel):
    entry: EntryPublic
    total: int
    level: int


class LedgerPage(BaseModel):
    member_id: str
    total: int
    level: int
    next_level_at: int | None = Field(description="Points the next level needs; null at the top.")
    data: list[EntryPublic]
    next_cursor: str | None


class RecomputeResult(BaseModel):
    raised: int
    lowered: int


class PointsEntry(MembersTable, table=True):
    __tablename__ = "points_entry"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "reason", "source_id", name="uq_points_entry_source"),
        # Leaderboards sum a window of a community's ledger from the index alone.
        sa.Index(
            "ix_points_entry_community_time",
            "community_id",
            "created_at",
            postgresql_include=["member_id", "amount"],
        ),
        # The daily cap of message points sums one member's entries of one reason in a day.
        sa.Index("ix_points_entry_member_reason_time", "member_id", "reason", "created_at"),
    )

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    member_id: str = Field(index=True)
    amount: int
    reason: str = Field(
        description="message, check_in, attendance, accepted_submission, "
        "successful_referral, campaign_reward, referral_reversed, manual, ..."
    )
    source_id: str = Field(description="The event or request id that caused it.")
    note: str | None = Field(default=None, description="Why, for manual adjustments.")
    actor: str = "system"
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class BadgeRule(BaseModel):
    """Every criterion given must hold; a member qualifying is awarded the badge by itself."""

    model_config = {"extra": "forbid"}

    min_points: int | None = Field(default=None, ge=1)
    min_level: int | None = Field(default=None, ge=2, le=50)
    min_successful_referrals: int | None = Field(default=None, ge=1, le=100_000)
    min_messages: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _some_criterion(self) -> "BadgeRule":
        if not self.model_dump(exclude_none=True):
            raise ValueError("a rule needs at least one criterion")
        return self


class Badge(MembersTable, table=True):
    __table_args__ = (sa.UniqueConstraint("community_id", "name", name="uq_badge_name"),)

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(index=True)
    name: str
    description: str
    # SQL NULL, not JSON null, for "no rule": queries filter on it.
    rule: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSONB(none_as_null=True), nullable=True)
    )
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class BadgeAward(MembersTable, table=True):
    __tablename__ = "badge_award"
    __table_args__ = (
        sa.UniqueConstraint("badge_id", "member_id", name="uq_badge_award_member"),
        sa.Index("ix_badge_award_member", "member_id", "awarded_at"),
    )

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    badge_id: str
    member_id: str
    reason: str
    actor: str
    awarded_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class BadgeCreate(RequestModel):
    name: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=1000)
    rule: BadgeRule | None = None


class BadgePublic(BaseModel):
    id: str
    community_id: str
    name: str
    description: str
    rule: BadgeRule | None
    created_at: datetime


class AwardCreate(RequestModel):
    member_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)


class AwardPublic(BaseModel):
    id: str
    badge_id: str
    badge_name: str
    member_id: str
    reason: str
    actor: str
    awarded_at: datetime


class Period(StrEnum):
    week = "7d"
    month = "30d"
    all = "all"


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
