"""Referral campaigns (裂变活动, DOMAIN.md rule 19): "invite N, get R".

A referral counts for a campaign when the invitee joined inside the campaign's window and the
referral later succeeded: the invitation happened during the campaign, and the waiting period
may end after it. The reward is granted exactly once per member and campaign: the reward row
is unique, and the points and badge it carries are keyed by (campaign, member) too, so neither
redelivered events nor re-run jobs can pay twice.
"""

from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, field_validator, model_validator
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlmodel import Column, Field, Session, col, func, select

from services.common.contracts.incentives import ReferralCampaignRewarded
from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import WorkspaceDep
from services.common.http.problems import field_problem, not_found
from services.common.ids import new_id
from services.common.periodic import PeriodicJob
from services.members import badges, service, tags
from services.members.merge import merge_step
from services.members.models import Member, MembersTable, MemberStatus, now, timestamp_column
from services.members.points_ledger import award
from services.members.referrals_records import Referral, ReferralState

router = APIRouter(tags=["referral campaigns"])
SWEEP_BATCH = 200


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


class CampaignCreate(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    invites_required: int = Field(ge=1, le=10_000)
    reward: Reward
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None


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


def _public(campaign: ReferralCampaign) -> CampaignPublic:
    return CampaignPublic.model_validate(campaign, from_attributes=True)


def _in_window(campaign: ReferralCampaign) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = [
        col(Referral.community_id) == campaign.community_id,
        col(Referral.joined_at) >= campaign.starts_at,
    ]
    if campaign.ends_at is not None:
        conditions.append(col(Referral.joined_at) < campaign.ends_at)
    return conditions


def counts(*, session: Session, campaign: ReferralCampaign, referrer_id: str) -> dict[str, int]:
    """A referrer's referrals in the campaign's window, by state."""
    rows = session.exec(
        select(Referral.state, func.count())
        .where(Referral.referrer_id == referrer_id, *_in_window(campaign))
        .group_by(col(Referral.state))
    ).all()
    return {str(state): n for state, n in rows}


def grant(*, session: Session, campaign: ReferralCampaign, member: Member, successes: int) -> bool:
    """Give the campaign's reward to `member` unless it was given already; True if given now."""
    reward_id = session.execute(
        insert(CampaignReward.__table__)  # type: ignore[attr-defined]
        .values(
            id=new_id("crw"),
            workspace_id=member.workspace_id,
            community_id=member.community_id,
            campaign_id=campaign.id,
            member_id=member.id,
            successes=successes,
            rewarded_at=now(),
        )
        .on_conflict_do_nothing()
        .returning(sa.column("id"))
    ).scalar_one_or_none()
    if reward_id is None:
        return False
    reward = Reward.model_validate(campaign.reward)
    source = f"{campaign.id}/{member.id}"
    if reward.points:
        award(
            session=session,
            member=member,
            amount=reward.points,
            reason="campaign_reward",
            source_id=source,
            note=campaign.name,
        )
    if reward.badge_id:
        badge = session.get(badges.Badge, reward.badge_id)
        if badge is not None and badge.community_id == member.community_id:
            badges.award_badge(
                session=session,
                badge=badge,
                member=member,
                reason=f"referral campaign {campaign.name}",
                actor="system",
            )
    if reward.tag:
        tags.tag_member(
            session=session,
            community_id=member.community_id,
            workspace_id=member.workspace_id,
            member_id=member.id,
            tag_name=reward.tag,
        )
    service.emit(
        session,
        ReferralCampaignRewarded(
            campaign_id=campaign.id,
            member_id=member.id,
            community_id=member.community_id,
            successes=successes,
            points=reward.points,
            badge_id=reward.badge_id,
            tag=reward.tag,
            rewarded_at=now(),
        ),
        member=member,
        community_id=member.community_id,
        workspace_id=member.workspace_id,
    )
    return True


def on_success(*, session: Session, referral: Referral, referrer: Member) -> int:
    """After a referral succeeded: reward the referrer in campaigns it completes."""
    already = select(CampaignReward.campaign_id).where(CampaignReward.member_id == referrer.id)
    open_for_it = session.exec(
        select(ReferralCampaign).where(
            ReferralCampaign.community_id == referral.community_id,
            col(ReferralCampaign.starts_at) <= referral.joined_at,
            sa.or_(
                col(ReferralCampaign.ends_at).is_(None),
                col(ReferralCampaign.ends_at) > referral.joined_at,
            ),
            col(ReferralCampaign.id).not_in(already),
        )
    ).all()
    granted = 0
    for campaign in open_for_it:
        successes = counts(session=session, campaign=campaign, referrer_id=referrer.id).get(
            ReferralState.succeeded, 0
        )
        if successes >= campaign.invites_required:
            granted += grant(
                session=session, campaign=campaign, member=referrer, successes=successes
            )
    return granted


def sweep(session: Session, at: datetime) -> int:
    """Reward whoever reached a campaign's target without a reward yet (a periodic job): covers
    campaigns created after their referrals succeeded, and any pass that failed half-way."""
    granted = 0
    for campaign in session.exec(
        select(ReferralCampaign)
        .where(col(ReferralCampaign.starts_at) <= at)
        .order_by(col(ReferralCampaign.id))
    ):
        rewarded = select(CampaignReward.member_id).where(CampaignReward.campaign_id == campaign.id)
        due = session.exec(
            select(Referral.referrer_id, func.count())
            .where(
                Referral.state == ReferralState.succeeded,
                col(Referral.referrer_id).not_in(rewarded),
                *_in_window(campaign),
            )
            .group_by(col(Referral.referrer_id))
            .having(func.count() >= campaign.invites_required)
            .order_by(col(Referral.referrer_id))
            .limit(SWEEP_BATCH - granted)
        ).all()
        for referrer_id, successes in due:
            member = session.get(Member, referrer_id)
            if member is not None and member.status != MemberStatus.merged:
                granted += grant(
                    session=session, campaign=campaign, member=member, successes=successes
                )
        if granted >= SWEEP_BATCH:
            break
    return granted


JOBS = [PeriodicJob("referral-campaign-rewards", 600, sweep)]


@merge_step
def _move_rewards(session: Session, survivor: Member, merged: Member) -> None:
    """Rewards move unless the survivor has that campaign's already (it is never given twice)."""
    session.execute(
        sa.update(CampaignReward)
        .where(
            col(CampaignReward.member_id) == merged.id,
            col(CampaignReward.campaign_id).not_in(
                select(CampaignReward.campaign_id).where(CampaignReward.member_id == survivor.id)
            ),
        )
        .values(member_id=survivor.id)
    )


# ---- routes ------------------------------------------------------------------------------


def get_campaign(
    *, session: Session, workspace_id: str, community_id: str, campaign_id: str
) -> ReferralCampaign:
    campaign = session.exec(
        select(ReferralCampaign).where(
            ReferralCampaign.id == campaign_id,
            ReferralCampaign.community_id == community_id,
            ReferralCampaign.workspace_id == workspace_id,
        )
    ).one_or_none()
    if campaign is None:
        raise not_found("referral campaign", campaign_id)
    return campaign


def create_campaign(
    *, session: Session, workspace_id: str, community_id: str, campaign_in: CampaignCreate
) -> ReferralCampaign:
    """Define a campaign; its badge must be one of the community's."""
    service.get_community(session=session, workspace_id=workspace_id, community_id=community_id)
    if campaign_in.ends_at is not None and campaign_in.ends_at <= campaign_in.starts_at:
        raise field_problem("ends_at", "ends_at must be after starts_at")
    if campaign_in.reward.badge_id is not None:
        badge = session.get(badges.Badge, campaign_in.reward.badge_id)
        if badge is None or badge.community_id != community_id:
            raise field_problem(
                "reward.badge_id", "no such badge in this community", "unknown-badge"
            )
    campaign = ReferralCampaign(
        id=new_id("rcp"),
        workspace_id=workspace_id,
        community_id=community_id,
        name=campaign_in.name,
        invites_required=campaign_in.invites_required,
        reward=campaign_in.reward.model_dump(exclude_none=True),
        starts_at=campaign_in.starts_at,
        ends_at=campaign_in.ends_at,
    )
    session.add(campaign)
    session.flush()
    return campaign


@router.post(
    "/communities/{community_id}/referral-campaigns",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignPublic,
)
def create_campaign_route(
    community_id: str,
    body: CampaignCreate,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    once: OnceDep,
) -> JSONResponse:
    """ "Invite N, get R": referrals whose invitee joined in the window and who succeeded count."""

    def create() -> tuple[int, CampaignPublic]:
        campaign = create_campaign(
            session=session, workspace_id=workspace_id, community_id=community_id, campaign_in=body
        )
        return 201, _public(campaign)

    return once.run(body, create)


@router.get("/communities/{community_id}/referral-campaigns", response_model=list[CampaignPublic])
def list_campaigns(
    community_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> list[CampaignPublic]:
    service.get_community(session=session, workspace_id=workspace_id, community_id=community_id)
    rows = session.exec(
        select(ReferralCampaign)
        .where(ReferralCampaign.community_id == community_id)
        .order_by(col(ReferralCampaign.id))
    )
    return [_public(c) for c in rows]


@router.get(
    "/communities/{community_id}/referral-campaigns/{campaign_id}/progress",
    response_model=Progress,
)
def progress(
    community_id: str,
    campaign_id: str,
    member_id: Annotated[str, Query(min_length=1, max_length=64)],
    session: SessionDep,
    workspace_id: WorkspaceDep,
) -> Progress:
    """How far a member is towards the campaign's target, and whether it was rewarded."""
    campaign = get_campaign(
        session=session,
        workspace_id=workspace_id,
        community_id=community_id,
        campaign_id=campaign_id,
    )
    member = service.get_member(
        session=session, workspace_id=workspace_id, community_id=community_id, member_id=member_id
    )
    by_state = counts(session=session, campaign=campaign, referrer_id=member.id)
    rewarded_at = session.exec(
        select(CampaignReward.rewarded_at).where(
            CampaignReward.campaign_id == campaign.id, CampaignReward.member_id == member.id
        )
    ).one_or_none()
    return Progress(
        campaign_id=campaign.id,
        member_id=member.id,
        invites_required=campaign.invites_required,
        successes=by_state.get(ReferralState.succeeded, 0),
        pending=by_state.get(ReferralState.pending, 0),
        rewarded_at=rewarded_at,
    )
