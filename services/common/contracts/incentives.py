"""Events of the incentive system (badges) and of referrals (裂变) the members service publishes."""

from datetime import datetime

from services.common.contracts import topics
from services.common.contracts.base import EventData


class MemberBadgeAwarded(EventData):
    """A member earned a badge: by its rule (`actor` "system") or from an operator."""

    type = "io.qunyun.member.badge_awarded.v1"
    topic = topics.MEMBERS

    award_id: str
    badge_id: str
    badge_name: str
    member_id: str
    community_id: str
    reason: str
    actor: str
    awarded_at: datetime


class ReferralSucceeded(EventData):
    """An invitee onboarded and stayed the community's waiting period: the referrer is credited."""

    type = "io.qunyun.referral.succeeded.v1"
    topic = topics.MEMBERS

    referral_id: str
    referrer_id: str
    invitee_id: str
    community_id: str
    joined_at: datetime
    points: int
    decided_at: datetime


class ReferralFailed(EventData):
    """A referral earns nothing: `self_invite`, `left_early`, `not_onboarded`, or `duplicate`
    (the invitee was merged into someone referred before)."""

    type = "io.qunyun.referral.failed.v1"
    topic = topics.MEMBERS

    referral_id: str
    referrer_id: str
    invitee_id: str
    community_id: str
    reason: str
    decided_at: datetime


class ReferralCampaignRewarded(EventData):
    """A member reached a referral campaign's target and got its reward (once per campaign)."""

    type = "io.qunyun.referral.campaign_rewarded.v1"
    topic = topics.MEMBERS

    campaign_id: str
    member_id: str
    community_id: str
    successes: int
    points: int | None
    badge_id: str | None
    tag: str | None
    rewarded_at: datetime
