"""The referral record: who brought whom into a community, and how it turned out.

Kept apart from referrals.py so that badges (which count successful referrals) and campaigns
can read it without importing the job that decides it.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, Session, func, select

from services.members.models import MembersTable, now, timestamp_column


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


@dataclass(frozen=True)
class Verdict:
    state: ReferralState
    reason: FailureReason | None = None


def verdict(
    *,
    referrer_id: str,
    invitee_id: str,
    due_at: datetime,
    onboarded_at: datetime | None,
    left_at: datetime | None,
    at: datetime,
) -> Verdict | None:
    """How a referral ends, or None while it cannot be told yet.

    `left_at` is the invitee's first departure (removed, banned, merged) since joining.
    Success needs the ritual done and membership unbroken through `due_at`; a departure after
    `due_at` no longer matters, so a late-running job decides as an on-time one would.
    """
    if referrer_id == invitee_id:
        return Verdict(ReferralState.failed, FailureReason.self_invite)
    if left_at is not None and left_at <= due_at:
        return Verdict(ReferralState.failed, FailureReason.left_early)
    if at < due_at:
        return None
    if onboarded_at is None or onboarded_at > due_at:
        return Verdict(ReferralState.failed, FailureReason.not_onboarded)
    return Verdict(ReferralState.succeeded)


def successful_count(*, session: Session, referrer_id: str) -> int:
    return session.exec(
        select(func.count())
        .select_from(Referral)
        .where(Referral.referrer_id == referrer_id, Referral.state == ReferralState.succeeded)
    ).one()
