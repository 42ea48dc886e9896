"""Referrals (裂变) and referral campaigns: tables and API shapes."""

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, field_validator, model_validator
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Column, Field

from services.common.clock import now
from services.common.http.schemas import Instant, RequestModel
from services.members.tables import MembersTable, timestamp_column
from services.members.vocabulary import MemberStatus


class ReferralState(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class FailureReason(StrEnum):
    self_invite = "self_invite"  # the same person, or two records merged into one
    left_early = "left_early"  # removed, banned or merged away before the waiting period
    not_onboarded = "not_onboarded"  # had not finished the joining ritual by then
    duplicate = "duplicate"  # merged into someone who had been referred already


class Referral(MembersTable, table=True):
    __table_args__ = (
        # A person is referred into a community once: leaving and rejoining is no new referral.
        sa.UniqueConstraint("invitee_id", name="uq_referral_invitee"),
        sa.Index("ix_referral_referrer", "referrer_id", "id"),
        sa.Index(
            "ix_referral_due",
            "due_at",
            postgresql_where=sa.text("state = 'pending'"),
        ),
    )

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    referrer_id: str
    invitee_id: str
    state: ReferralState = ReferralState.pending
    failure_reason: FailureReason | None = None
    joined_at: datetime = Field(sa_column=timestamp_column())
    # joined_at + the waiting period in force when they joined: later changes of the setting
    # apply to later referrals, so nobody's pending credit moves under them.
    due_at: datetime = Field(sa_column=timestamp_column())
    decided_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class ReferralCampaign(MembersTable, table=True):
    __tablename__ = "referral_campaign"

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(index=True)
    name: str
    invites_required: int
    reward: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    starts_at: datetime = Field(sa_column=timestamp_column())
    ends_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class CampaignReward(MembersTable, table=True):
    __tablename__ = "referral_campaign_reward"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "member_id", name="uq_referral_campaign_reward"),
    )

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    campaign_id: str
    member_id: str
    successes: int
    rewarded_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class ReferralPublic(BaseModel):
    id: str
    referrer_id: str
    invitee_id: str
    invitee_display_name: str
    state: ReferralState
    failure_reason: FailureReason | None
    joined_at: datetime
    due_at: datetime
    decided_at: datetime | None


class ChainLink(BaseModel):
    depth: int
    member_id: str
    display_name: str
    status: MemberStatus


class ReferralChain(BaseModel):
    member_id: str
    chain: list[ChainLink]
    truncated: bool


class Reward(BaseModel):
    model_config = {"extra": "forbid"}

    points: int | None = Field(default=None, ge=1, le=1_000_000)
    badge_id: str | None = Field(default=None, max_length=64)
    tag: str | None = Field(default=None, min_length=1, max_length=40)

    @field_validator("tag")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("a tag name cannot be blank")
        return value.strip() if value else value

    @model_validator(mode="after")
    def _something(self) -> "Reward":
        if not self.model_dump(exclude_none=True):
            raise ValueError("a reward needs points, a badge or a tag")
        return self


class CampaignCreate(RequestModel):
    name: str = Field(min_length=1, max_length=120)
    invites_required: int = Field(ge=1, le=10_000)
    reward: Reward
    starts_at: Instant
    ends_at: Instant | None = None


class CampaignPublic(BaseModel):
    id: str
    community_id: str
    name: str
    invites_required: int
    reward: Reward
    starts_at: datetime
    ends_at: datetime | None
    created_at: datetime


class Progress(BaseModel):
    campaign_id: str
    member_id: str
    invites_required: int
    successes: int
    pending: int
    rewarded_at: datetime | None
