"""Referrals (裂变, DOMAIN.md rule 19): who brought whom, the chain above each member, and the
credit a referrer earns once an invitee has onboarded and stayed.

Core records `member.referred_by` at join; this module keeps the referral from the service's
own `member.joined` event, so it is created once per invitee whatever the delivery count.
A job decides referrals whose waiting period is over (`ReferralSettings.success_after_days`),
from the invitee's onboarding time and status history as of that moment.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from services.common.clock import now
from services.common.contracts.incentives import ReferralFailed, ReferralSucceeded
from services.members import publishing
from services.members.community import service as community_service
from services.members.community.models import Community, Member, MemberTransition
from services.members.incentives import badges
from services.members.incentives.ledger import award
from services.members.incentives.models import PointsEntry
from services.members.lifecycle import service
from services.members.referrals import campaigns
from services.members.referrals.models import (
    ChainLink,
    FailureReason,
    Referral,
    ReferralChain,
    ReferralPublic,
    ReferralState,
)
from services.members.referrals.records import Verdict, verdict
from services.members.vocabulary import GONE, Stage

BATCH = 200


def _first_departure(session: Session, member_id: str, since: datetime) -> datetime | None:
    return session.exec(
        select(func.min(MemberTransition.at)).where(
            MemberTransition.member_id == member_id,
            col(MemberTransition.to_status).in_(GONE),
            col(MemberTransition.at) >= since,
        )
    ).one()


def decide(session: Session, *, referral: Referral, outcome: Verdict, at: datetime) -> None:
    """Record the outcome; on success credit the referrer (points, stage, badges, campaigns)."""
    referral.state, referral.failure_reason, referral.decided_at = outcome.state, outcome.reason, at
    session.add(referral)
    referrer = session.get_one(Member, referral.referrer_id)
    if outcome.state == ReferralState.failed:
        assert outcome.reason is not None
        publishing.emit(
            session,
            ReferralFailed(
                referral_id=referral.id,
                referrer_id=referral.referrer_id,
                invitee_id=referral.invitee_id,
                community_id=referral.community_id,
                reason=outcome.reason,
                decided_at=at,
            ),
            member=referrer,
            community_id=referral.community_id,
            workspace_id=referral.workspace_id,
        )
        return
    points = (
        community_service.get_community(
            session=session, workspace_id=referral.workspace_id, community_id=referral.community_id
        )
        .rules()
        .points.successful_referral
    )
    award(
        session=session,
        member=referrer,
        amount=points,
        reason="successful_referral",
        source_id=referral.id,
        at=at,
    )
    service.advance(
        session=session,
        member=referrer,
        to_stage=Stage.referring,
        reason="first successful referral",
    )
    session.flush()
    badges.check_rules(session=session, member=referrer)
    campaigns.on_success(session=session, referral=referral, referrer=referrer)
    publishing.emit(
        session,
        ReferralSucceeded(
            referral_id=referral.id,
            referrer_id=referral.referrer_id,
            invitee_id=referral.invitee_id,
            community_id=referral.community_id,
            joined_at=referral.joined_at,
            points=points,
            decided_at=at,
        ),
        member=referrer,
        community_id=referral.community_id,
        workspace_id=referral.workspace_id,
    )


def decide_due(session: Session, at: datetime) -> int:
    """Decide the referrals whose waiting period is over (a periodic job); returns how many."""
    due = session.exec(
        select(Referral)
        .where(Referral.state == ReferralState.pending, col(Referral.due_at) <= at)
        .order_by(col(Referral.due_at), col(Referral.id))
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    decided = 0
    for referral in due:
        invitee = session.get_one(Member, referral.invitee_id)
        outcome = verdict(
            referrer_id=referral.referrer_id,
            invitee_id=referral.invitee_id,
            due_at=referral.due_at,
            onboarded_at=invitee.onboarded_at,
            left_at=_first_departure(session, invitee.id, referral.joined_at),
            at=at,
        )
        if outcome is not None:
            decide(session, referral=referral, outcome=outcome, at=at)
            decided += 1
    return decided


def _reverse(session: Session, referral: Referral, member: Member) -> None:
    """Take back what a referral that turned out to be a self-invite paid, down to zero."""
    paid = session.exec(
        select(PointsEntry.amount).where(
            PointsEntry.community_id == referral.community_id,
            PointsEntry.reason == "successful_referral",
            PointsEntry.source_id == referral.id,
        )
    ).one_or_none()
    if paid:
        award(
            session=session,
            member=member,
            amount=-min(paid, member.points),
            reason="referral_reversed",
            source_id=referral.id,
        )


def move_referrals(session: Session, *, survivor: Member, merged: Member) -> None:
    """Referrals follow the person; one between the two records becomes a failed self-invite
    (and what it paid is taken back)."""
    pair = (survivor.id, merged.id)
    for own in session.exec(
        select(Referral).where(
            col(Referral.referrer_id).in_(pair),
            col(Referral.invitee_id).in_(pair),
            col(Referral.failure_reason).is_distinct_from(FailureReason.self_invite),
        )
    ).all():
        if own.state == ReferralState.succeeded:
            _reverse(session, own, survivor)
        decide(
            session,
            referral=own,
            outcome=Verdict(ReferralState.failed, FailureReason.self_invite),
            at=now(),
        )
    session.execute(
        sa.update(Referral)
        .where(col(Referral.referrer_id) == merged.id)
        .values(referrer_id=survivor.id)
    )
    survivor_was_invited = session.exec(
        select(Referral.id).where(Referral.invitee_id == survivor.id)
    ).first()
    if survivor_was_invited is None:
        session.execute(
            sa.update(Referral)
            .where(col(Referral.invitee_id) == merged.id)
            .values(invitee_id=survivor.id)
        )
        return
    # One person referred twice: the survivor's referral stands, the other cannot succeed.
    for duplicate in session.exec(
        select(Referral).where(
            Referral.invitee_id == merged.id, Referral.state == ReferralState.pending
        )
    ).all():
        decide(
            session,
            referral=duplicate,
            outcome=Verdict(ReferralState.failed, FailureReason.duplicate),
            at=now(),
        )


def referrals_query(*, member: Member, state: ReferralState | None) -> Any:
    """Whom the member invited, narrowed to one state if given."""
    query = select(Referral).where(
        Referral.referrer_id == member.id, Referral.workspace_id == member.workspace_id
    )
    return query if state is None else query.where(Referral.state == state)


def with_invitees(*, session: Session, referrals: list[Referral]) -> list[ReferralPublic]:
    """The referrals as the API shows them, with each invitee's display name."""
    names = dict(
        session.exec(
            select(Member.id, Member.display_name).where(
                col(Member.id).in_([r.invitee_id for r in referrals])
            )
        ).all()
    )
    return [
        ReferralPublic(
            **r.model_dump(
                include={
                    "id",
                    "referrer_id",
                    "invitee_id",
                    "state",
                    "failure_reason",
                    "joined_at",
                    "due_at",
                    "decided_at",
                }
            ),
            invitee_display_name=names.get(r.invitee_id, ""),
        )
        for r in referrals
    ]


_CHAIN = sa.text(
    """
    WITH RECURSIVE up(member_id, depth, path) AS (
        SELECT r.referrer_id, 1, ARRAY[r.invitee_id, r.referrer_id]
        FROM referral r
        WHERE r.invitee_id = :member_id AND r.workspace_id = :workspace_id
          AND r.referrer_id <> r.invitee_id
        UNION ALL
        SELECT r.referrer_id, up.depth + 1, up.path || r.referrer_id
        FROM referral r JOIN up ON r.invitee_id = up.member_id
        WHERE up.depth <= :max_depth AND r.workspace_id = :workspace_id
          AND NOT r.referrer_id = ANY(up.path)
    )
    SELECT up.depth, m.id, m.display_name, m.status
    FROM up JOIN member m ON m.id = up.member_id
    ORDER BY up.depth
    """
)


def chain_of(*, session: Session, community: Community, member: Member) -> ReferralChain:
    """Who invited the member, who invited them, and so on up to the root (depth-bounded)."""
    max_depth = community.rules().referrals.chain_max_depth
    rows = session.execute(
        _CHAIN,
        {"member_id": member.id, "workspace_id": member.workspace_id, "max_depth": max_depth},
    ).all()
    return ReferralChain(
        member_id=member.id,
        chain=[
            ChainLink(depth=d, member_id=i, display_name=n, status=s)
            for d, i, n, s in rows[:max_depth]
        ],
        truncated=len(rows) > max_depth,
    )
