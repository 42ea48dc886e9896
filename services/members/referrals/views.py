"""Referrals (裂变): whom a member invited, the chain above them, and campaigns."""

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse
from sqlmodel import col

from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.pagination import Page, Paging, paginate
from services.members.community import members
from services.members.deps import CommunityDep, MemberDep, located
from services.members.referrals import campaigns, service
from services.members.referrals.models import (
    CampaignCreate,
    CampaignPublic,
    Progress,
    Referral,
    ReferralCampaign,
    ReferralChain,
    ReferralPublic,
    ReferralState,
)

router = APIRouter(prefix="/v1/communities/{community_id}")


def _campaign_public(campaign: ReferralCampaign) -> CampaignPublic:
    return CampaignPublic.model_validate(campaign, from_attributes=True)


@router.get(
    "/members/{member_id}/referrals",
    response_model=Page[ReferralPublic],
    tags=["referrals"],
)
def referrals_of(
    member: MemberDep,
    session: SessionDep,
    paging: Paging,
    state: ReferralState | None = None,
) -> Page[ReferralPublic]:
    """Whom the member invited, oldest first, with each referral's state."""
    query = service.referrals_query(member=member, state=state)
    rows, cursor = paginate(session, query, col(Referral.id), paging)
    return Page(data=service.with_invitees(session=session, referrals=rows), next_cursor=cursor)


@router.get(
    "/members/{member_id}/referral-chain",
    response_model=ReferralChain,
    tags=["referrals"],
)
def referral_chain(
    community: CommunityDep, member: MemberDep, session: SessionDep
) -> ReferralChain:
    """Who invited the member, who invited them, and so on up to the root (depth-bounded)."""
    return service.chain_of(session=session, community=community, member=member)


@router.post(
    "/referral-campaigns",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignPublic,
    tags=["referral campaigns"],
)
def create_campaign(
    community: CommunityDep, body: CampaignCreate, session: SessionDep, once: OnceDep
) -> JSONResponse:
    """ "Invite N, get R": referrals whose invitee joined in the window and who succeeded count."""

    def create() -> tuple[int, CampaignPublic]:
        campaign = campaigns.create_campaign(session=session, community=community, campaign_in=body)
        return 201, _campaign_public(campaign)

    return located(
        once.run(body, create), f"/v1/communities/{community.id}/referral-campaigns/{{id}}"
    )


@router.get(
    "/referral-campaigns/{campaign_id}",
    response_model=CampaignPublic,
    tags=["referral campaigns"],
)
def get_campaign(community: CommunityDep, campaign_id: str, session: SessionDep) -> CampaignPublic:
    return _campaign_public(
        campaigns.get_campaign(session=session, community=community, campaign_id=campaign_id)
    )


@router.get("/referral-campaigns", response_model=Page[CampaignPublic], tags=["referral campaigns"])
def list_campaigns(
    community: CommunityDep, session: SessionDep, paging: Paging
) -> Page[CampaignPublic]:
    """The community's campaigns, oldest first."""
    query = campaigns.campaigns_query(community=community)
    rows, cursor = paginate(session, query, col(ReferralCampaign.id), paging)
    return Page(data=[_campaign_public(c) for c in rows], next_cursor=cursor)


@router.get(
    "/referral-campaigns/{campaign_id}/progress",
    response_model=Progress,
    tags=["referral campaigns"],
)
def progress(
    community: CommunityDep,
    campaign_id: str,
    member_id: Annotated[str, Query(min_length=1, max_length=64)],
    session: SessionDep,
) -> Progress:
    """How far a member is towards the campaign's target, and whether it was rewarded."""
    campaign = campaigns.get_campaign(session=session, community=community, campaign_id=campaign_id)
    member = members.get_member(
        session=session,
        workspace_id=community.workspace_id,
        community_id=community.id,
        member_id=member_id,
    )
    return campaigns.progress_of(session=session, campaign=campaign, member=member)
