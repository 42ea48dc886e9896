"""When a referral earns its referrer credit: the verdict, as a property."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.members.referrals.models import FailureReason, ReferralState
from services.members.referrals.records import verdict

JOINED = datetime(2026, 3, 1, 12, tzinfo=UTC)
offsets = st.integers(-5 * 86400, 60 * 86400).map(lambda s: JOINED + timedelta(seconds=s))


@given(
    days=st.integers(0, 30),
    self_invite=st.booleans(),
    onboarded_at=st.none() | offsets,
    left_at=st.none() | offsets,
    at=offsets,
)
def test_credited_iff_onboarded_and_still_a_member_at_d_days_and_not_self(
    days: int,
    self_invite: bool,
    onboarded_at: datetime | None,
    left_at: datetime | None,
    at: datetime,
) -> None:
    due = JOINED + timedelta(days=days)
    outcome = verdict(
        referrer_id="mbr_a",
        invitee_id="mbr_a" if self_invite else "mbr_b",
        due_at=due,
        onboarded_at=onboarded_at,
        left_at=left_at,
        at=at,
    )
    onboarded = onboarded_at is not None and onboarded_at <= due
    stayed = left_at is None or left_at > due
    if outcome is None:  # undecided only while the period runs and nothing has failed it yet
        assert at < due and not self_invite and stayed
        return
    credited = outcome.state == ReferralState.succeeded
    assert credited == (onboarded and stayed and not self_invite)
    if credited:
        assert at >= due and outcome.reason is None
    else:
        assert outcome.state == ReferralState.failed and outcome.reason is not None
    if self_invite:
        assert outcome.reason == FailureReason.self_invite


@given(onboarded_at=st.none() | offsets, left_at=st.none() | offsets, late=st.integers(0, 10**7))
def test_a_late_job_decides_as_an_on_time_one(
    onboarded_at: datetime | None, left_at: datetime | None, late: int
) -> None:
    due = JOINED + timedelta(days=7)
    facts = {
        "referrer_id": "mbr_a",
        "invitee_id": "mbr_b",
        "due_at": due,
        "onboarded_at": onboarded_at,
        "left_at": left_at,
    }
    assert verdict(**facts, at=due) == verdict(**facts, at=due + timedelta(seconds=late))
