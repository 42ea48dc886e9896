"""What referrals hear: a member who joined with someone's invite code starts a referral."""

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from services.common.clock import now
from services.common.cloudevents import CloudEvent
from services.common.contracts import MemberJoined
from services.common.ids import new_id
from services.members.community import service
from services.members.incentives.service import member_for_event
from services.members.referrals.models import FailureReason, Referral, ReferralState
from services.members.referrals.records import Verdict
from services.members.referrals.service import decide


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
    if referral_id is not None and referrer.id == invitee.id:
        referral = session.get_one(Referral, referral_id)
        decide(
            session,
            referral=referral,
            outcome=Verdict(ReferralState.failed, FailureReason.self_invite),
            at=now(),
        )
