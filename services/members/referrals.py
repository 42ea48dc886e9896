"""Referrals (裂变, DOMAIN.md rule 19): who brought whom, the chain above each member, and the
credit a referrer earns once an invitee has onboarded and stayed.

Core records `member.referred_by` at join; this module keeps the referral from the service's
own `member.joined` event, so it is created once per invitee whatever the delivery count.
A job decides referrals whose waiting period is over (`ReferralSettings.success_after_days`),
from the invitee's onboarding time and status history as of that moment.
"""

from datetime import datetime, timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, func, select

from services.common.cloudevents import CloudEvent
from services.common.consumer import Handler
from services.common.contracts import MemberJoined
from services.common.contracts.incentives import ReferralFailed, ReferralSucceeded
from services.common.db import SessionDep
from services.common.http.identity import WorkspaceDep
from services.common.http.pagination import Page, PageParams, page_params, paginate
from services.common.ids import new_id
from services.common.periodic import PeriodicJob
from services.members import badges, lifecycle, referrals_campaigns, service
from services.members.merge import merge_step
from services.members.models import Member, MemberStatus, MemberTransition, Stage, now
from services.members.points import member_for_event
from services.members.points_ledger import PointsEntry, award
from services.members.referrals_records import (
    FailureReason,
    Referral,
    ReferralState,
    Verdict,
    verdict,
)

router = APIRouter(prefix="/v1", tags=["referrals"])
BATCH = 200
DEPARTURES = (MemberStatus.removed, MemberStatus.banned, MemberStatus.merged)


# ---- recording ---------------------------------------------------------------------------


def on_member_joined(session: Session, event: CloudEvent) -> None:
    """A join with a referrer becomes a pending referral (a self-invite fails at once)."""
    data = MemberJoined.model_validate(event.data)
    if not data.referred_by:
        return
    invitee = member_for_event(session, event, data.member_id, data.community_id)
    referrer = member_for_event(session, event, data.referred_by, data.community_id)
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
        _settle(session, referral, Verdict(ReferralState.failed, FailureReason.self_invite), now())


HANDLERS: dict[str, Handler] = {MemberJoined.type: on_member_joined}


# ---- deciding ----------------------------------------------------------------------------


def _first_departure(session: Session, member_id: str, since: datetime) -> datetime | None:
    return session.exec(
        select(func.min(MemberTransition.at)).where(
            MemberTransition.member_id == member_id,
            col(MemberTransition.to_status).in_(DEPARTURES),
            col(MemberTransition.at) >= since,
        )
    ).one()


def _settle(session: Session, referral: Referral, outcome: Verdict, at: datetime) -> None:
    """Record the outcome; on success credit the referrer (points, stage, badges, campaigns)."""
    referral.state, referral.failure_reason, referral.decided_at = outcome.state, outcome.reason, at
    session.add(referral)
    referrer = session.get_one(Member, referral.referrer_id)
    if outcome.state == ReferralState.failed:
        assert outcome.reason is not None
        service.emit(
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
        service.get_community(
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
    lifecycle.advance(
        session=session,
        member=referrer,
        to_stage=Stage.referring,
        reason="first successful referral",
    )
    session.flush()
    badges.check_rules(session=session, member=referrer)
    referrals_campaigns.on_success(session=session, referral=referral, referrer=referrer)
    service.emit(
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
            _settle(session, referral, outcome, at)
            decided += 1
    return decided


JOBS = [PeriodicJob("referral-decisions", 300, decide_due), *referrals_campaigns.JOBS]


# ---- merging -----------------------------------------------------------------------------


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


@merge_step
def _move_referrals(session: Session, survivor: Member, merged: Member) -> None:
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
        _settle(session, own, Verdict(ReferralState.failed, FailureReason.self_invite), now())
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
        _settle(session, duplicate, Verdict(ReferralState.failed, FailureReason.duplicate), now())


# ---- reading -----------------------------------------------------------------------------


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


@router.get(
    "/communities/{community_id}/members/{member_id}/referrals",
    response_model=Page[ReferralPublic],
)
def referrals_of(
    community_id: str,
    member_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    paging: Annotated[PageParams, Depends(page_params)],
    state: ReferralState | None = None,
) -> Page[ReferralPublic]:
    """Whom the member invited, oldest first, with each referral's state."""
    member = service.get_member(
        session=session, workspace_id=workspace_id, community_id=community_id, member_id=member_id
    )
    query = select(Referral).where(
        Referral.referrer_id == member.id, Referral.workspace_id == workspace_id
    )
    if state is not None:
        query = query.where(Referral.state == state)
    rows, cursor = paginate(session, query, col(Referral.id), paging)
    names = dict(
        session.exec(
            select(Member.id, Member.display_name).where(
                col(Member.id).in_([r.invitee_id for r in rows])
            )
        ).all()
    )
    return Page(
        data=[
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
            for r in rows
        ],
        next_cursor=cursor,
    )


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


@router.get(
    "/communities/{community_id}/members/{member_id}/referral-chain",
    response_model=ReferralChain,
)
def referral_chain(
    community_id: str, member_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> ReferralChain:
    """Who invited the member, who invited them, and so on up to the root (depth-bounded)."""
    member = service.get_member(
        session=session, workspace_id=workspace_id, community_id=community_id, member_id=member_id
    )
    max_depth = (
        service.get_community(session=session, workspace_id=workspace_id, community_id=community_id)
        .rules()
        .referrals.chain_max_depth
    )
    rows = session.execute(
        _CHAIN, {"member_id": member.id, "workspace_id": workspace_id, "max_depth": max_depth}
    ).all()
    return ReferralChain(
        member_id=member.id,
        chain=[
            ChainLink(depth=d, member_id=i, display_name=n, status=s)
            for d, i, n, s in rows[:max_depth]
        ],
        truncated=len(rows) > max_depth,
    )


router.include_router(referrals_campaigns.router)
