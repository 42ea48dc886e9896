"""Referrals (裂变, rule 19): each decided referral, and the API shape of the figures."""

from datetime import date, datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from services.metrics.tables import MetricsTable


class Referral(MetricsTable, table=True):
    __tablename__ = "referral"

    referral_id: str = Field(primary_key=True)
    community_id: str
    referrer_id: str
    invitee_id: str
    outcome: str  # succeeded, failed
    reason: str | None = None
    decided_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ReferrerPublic(SQLModel):
    member_id: str
    successes: int


class ReferralsPublic(SQLModel):
    community_id: str
    first: date
    last: date
    members_at_start: int = Field(description="Members at the end of the day before `first`.")
    invited_group_joins: int = Field(
        description="Group joins bots reported as invited by someone (the invitations that "
        "worked; invitations sent are not reported to the platform)."
    )
    referred_joins: int = Field(description="Joins naming the member who referred them.")
    successes: int = Field(description="Referrals credited (the invitee stayed and onboarded).")
    failures: int = Field(description="Referrals decided as not earning anything.")
    failures_by_reason: dict[str, int]
    referrers: int = Field(description="Distinct members with a success in the range.")
    invitation_rate: float | None = Field(
        description="i = referred_joins / members_at_start: referred joins per member."
    )
    conversion: float | None = Field(
        description="c = successes / referred_joins: the share of referred joins that count."
    )
    k_factor: float | None = Field(
        description="K = i × c = successes / members_at_start: new members each existing "
        "member brought; above 1 a community grows by referral alone."
    )
    top_referrers: list[ReferrerPublic]
