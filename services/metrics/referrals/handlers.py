"""Decided referrals (members service) → the day's counts and the referral records."""

from sqlmodel import Session

from services.common.clock import local_day
from services.common.cloudevents import CloudEvent
from services.common.contracts import ReferralFailed, ReferralSucceeded
from services.metrics import telemetry
from services.metrics.referrals.service import record_referral
from services.metrics.replica.models import Community
from services.metrics.rollups.counters import add_to_community_day


def on_referral_succeeded(session: Session, event: CloudEvent) -> None:
    data = ReferralSucceeded.model_validate(event.data)
    _decided(session, event, data, outcome="succeeded", reason=None)


def on_referral_failed(session: Session, event: CloudEvent) -> None:
    data = ReferralFailed.model_validate(event.data)
    _decided(session, event, data, outcome="failed", reason=data.reason)


def _decided(
    session: Session,
    event: CloudEvent,
    data: ReferralSucceeded | ReferralFailed,
    *,
    outcome: str,
    reason: str | None,
) -> None:
    community = session.get(Community, data.community_id)
    if community is None:
        telemetry.UNMATCHED.labels(event.type).inc()
        return
    new = record_referral(
        session,
        referral_id=data.referral_id,
        community=community,
        referrer_id=data.referrer_id,
        invitee_id=data.invitee_id,
        outcome=outcome,
        reason=reason,
        at=data.decided_at,
    )
    if new:
        counter = "referral_successes" if outcome == "succeeded" else "referral_failures"
        add_to_community_day(
            session,
            workspace_id=event.workspaceid,
            community_id=data.community_id,
            day=local_day(data.decided_at, community.timezone),
            **{counter: 1},
        )
