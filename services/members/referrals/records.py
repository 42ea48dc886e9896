"""The referral record: who brought whom into a community, and how it turned out.

Kept apart from referrals.py so that badges (which count successful referrals) and campaigns
can read it without importing the job that decides it.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, func, select

from services.members.referrals.models import FailureReason, Referral, ReferralState


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
    """How many of the member's referrals succeeded."""
    return session.exec(
        select(func.count())
        .select_from(Referral)
        .where(Referral.referrer_id == referrer_id, Referral.state == ReferralState.succeeded)
    ).one()
