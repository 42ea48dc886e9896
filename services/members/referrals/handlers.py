"""What referrals hear: a member who joined with someone's invite code starts a referral; the
invitee finishing onboarding or leaving may decide it on the spot."""

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from services.common.clock import now
from services.common.cloudevents import CloudEvent
from services.common.contracts import MemberJoined, MemberOnboarded, MemberStatusChanged
from services.common.ids import new_id
from services.members.community import service
from services.members.incentives.service import member_for_event
from services.members.referrals.models import FailureReason, Referral, ReferralState
from services.members.referrals.records import Verdict
from services.members.referrals.service import decide, decide_for_invitee, decide_if_told
from services.members.vocabulary import GONE


def on_member_joined(session: Session, event: CloudEvent) -> None:
    """A join with a referrer becomes a pending referral (a self-invite fails at once)."""
    data = MemberJoined.model_validate(event.data)
    if not data.referred_by:
        return
    invitee = member_for_event(
        session, event=event, member_id=data.member_id, community_id=data.community_id
    )
    referrer = member_for_event(
        session, event=event, member_id=data.referred_by, community_id=data.community_id
    )
    if invitee is None or referrer is None:
        return
    community = service.get_community(
        session=session, workspace_id=invitee.workspace_id, community_id=invitee.community_id
    )
    wait = timedelta(days=community.rules().referrals.success_after_days)
    referral_id = session.execute(
        insert(Referral.__table__)  # type: ignore[attr-defined]
        .values(
            id=new_id("ref"),
            workspace_id=invitee.workspace_id,
            community_id=invitee.community_id,
            referrer_id=referrer.id,
            invitee_id=invitee.id,
            state=ReferralState.pending,
            joined_at=data.joined_at,
            due_at=data.joined_at + wait,
            created_at=now(),
        )
        .on_conflict_do_nothing()
        .returning(sa.column("id"))
    ).scalar_one_or_none()
    if referral_id is None:
        return
    referral = session.get_one(Referral, referral_id)
    if referrer.id == invitee.id:
        decide(
            session,
            referral=referral,
            outcome=Verdict(ReferralState.failed, FailureReason.self_invite),
            at=now(),
        )
        return
    decide_if_told(session, referral=referral, at=now())


def on_member_onboarded(session: Session, event: CloudEvent) -> None:
    """An invitee who finished the ritual may have made their referral succeed."""
    data = MemberOnboarded.model_validate(event.data)
    decide_for_invitee(session, invitee_id=data.member_id, at=now())


def on_member_status_changed(session: Session, event: CloudEvent) -> None:
    """An invitee who left before their referral fell due has made it fail."""
    data = MemberStatusChanged.model_validate(event.data)
    if data.to_status in GONE:
        decide_for_invitee(session, invitee_id=data.member_id, at=now())
