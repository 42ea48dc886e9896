"""Onboarding: each member's progress through the joining ritual, rules versions and
acknowledgements (tables), and their API shapes."""

from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, StringConstraints
from sqlmodel import Field

from services.common.clock import now
from services.common.http.schemas import RequestModel
from services.members.tables import MembersTable, timestamp_column


def _text(max_length: int) -> Any:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


# Same limits as the member's profile fields.
City = Annotated[str, _text(80)]


Company = Annotated[str, _text(120)]


Title = Annotated[str, _text(120)]


Intro = Annotated[str, _text(2000)]


Reason = Annotated[str, _text(500)]


class MemberOnboarding(MembersTable, table=True):
    __tablename__ = "member_onboarding"

    member_id: str = Field(primary_key=True, foreign_key="member.id")
    workspace_id: str
    community_id: str
    reason: str | None = None
    updated_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class OnboardingIn(RequestModel):
    """Any part of the ritual; what is left out stays as it was."""

    city: City | None = None
    company: Company | None = None
    title: Title | None = None
    intro: Intro | None = None
    reason: Reason | None = Field(default=None, description="Why they joined.")
    rules_version: int | None = Field(default=None, ge=1, description="The version they read.")


class OnboardingStatus(BaseModel):
    member_id: str
    onboarded: bool
    onboarded_at: datetime | None
    missing: list[str] = Field(
        description="Required intro fields not given yet, and `rules_acknowledgement` when "
        "the current rules version still has to be acknowledged."
    )
    city: str | None
    company: str | None
    title: str | None
    intro: str | None
    reason: str | None


class UnfinishedMember(BaseModel):
    member_id: str
    display_name: str
    joined_at: datetime
    hours_since_joining: int
    missing: list[str]


class RulesVersion(MembersTable, table=True):
    __tablename__ = "rules_version"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "version", name="uq_rules_version_number"),
    )

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(foreign_key="community.id")
    version: int
    text: str
    published_by: str
    published_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class RulesAcknowledgement(MembersTable, table=True):
    __tablename__ = "rules_acknowledgement"

    member_id: str = Field(primary_key=True, foreign_key="member.id")
    version: int = Field(primary_key=True)
    workspace_id: str
    community_id: str
    acknowledged_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class RulesIn(RequestModel):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]


class RulesPublic(BaseModel):
    version: int
    text: str
    published_by: str
    published_at: datetime


class AcknowledgementIn(RequestModel):
    version: int = Field(ge=1)


class AcknowledgementPublic(BaseModel):
    member_id: str
    version: int
    acknowledged_at: datetime
    is_current: bool
