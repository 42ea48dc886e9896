"""Referral campaigns (裂变活动, DOMAIN.md rule 19): "invite N, get R".

A referral counts for a campaign when the invitee joined inside the campaign's window and the
referral later succeeded: the invitation happened during the campaign, and the waiting period
may end after it. The reward is granted exactly once per member and campaign: the reward row
is unique, and the points and badge it carries are keyed by (campaign, member) too, so neither
redelivered events nor re-run jobs can pay twice.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, func, select

from services.common.clock import now
from services.common.contracts.incentives import ReferralCampaignRewarded
from services.common.http.problems import field_problem, not_found
from services.common.ids import new_id
from services.members import problems, publishing
from services.members.community.models import Community, Member
from services.members.incentives import badges, models
from services.members.incentives.ledger import award
from services.members.referrals.models import (
    CampaignCreate,
    CampaignReward,
    Progress,
    Referral,
    ReferralCampaign,
    ReferralState,
    Reward,
)
from services.members.tags import service as tags_service
from services.members.vocabulary import MemberStatus

SWEEP_BATCH = 200


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
        badge = session.get(models.Badge, reward.badge_id)
        if badge is not None and badge.community_id == member.community_id:
            badges.award_badge(
                session=session,
                badge=badge,
                member=member,
                reason=f"referral campaign {campaign.name}",
                actor="system",
            )
    if reward.tag:
        tags_service.tag_member(
            session=session,
            community_id=member.community_id,
            workspace_id=member.workspace_id,
            member_id=member.id,
            tag_name=reward.tag,
        )
    publishing.emit(
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


def move_rewards(session: Session, *, survivor: Member, merged: Member) -> None:
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


def get_campaign(*, session: Session, community: Community, campaign_id: str) -> ReferralCampaign:
    """The community's campaign, or the 404 problem."""
    campaign = session.exec(
        select(ReferralCampaign).where(
            ReferralCampaign.id == campaign_id,
            ReferralCampaign.community_id == community.id,
            ReferralCampaign.workspace_id == community.workspace_id,
        )
    ).one_or_none()
    if campaign is None:
        raise not_found("referral campaign", campaign_id)
    return campaign


def create_campaign(
    *, session: Session, community: Community, campaign_in: CampaignCreate
) -> ReferralCampaign:
    """Define a campaign; its badge must be one of the community's."""
    workspace_id, community_id = community.workspace_id, community.id
    if campaign_in.ends_at is not None and campaign_in.ends_at <= campaign_in.starts_at:
        raise field_problem("ends_at", "ends_at must be after starts_at")
    if campaign_in.reward.badge_id is not None:
        badge = session.get(models.Badge, campaign_in.reward.badge_id)
        if badge is None or badge.community_id != community_id:
            raise problems.UnknownBadge()
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


def campaigns_query(*, community: Community) -> Any:
    """The community's campaigns; page them oldest first by `id`."""
    return select(ReferralCampaign).where(
        ReferralCampaign.community_id == community.id,
        ReferralCampaign.workspace_id == community.workspace_id,
    )


def progress_of(*, session: Session, campaign: ReferralCampaign, member: Member) -> Progress:
    """How far a member is towards the campaign's target, and whether it was rewarded."""
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
