"""Members' core tables and API shapes, in the SQLModel family style (Base, Create, table,
Public). Sub-domains (groups, tags, points, ...) keep their tables in their own modules."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import ConfigDict, field_validator
from sqlalchemy import Column, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from services.common import clock
from services.common.clock import now
from services.common.http.schemas import Instant, RequestModel, omittable
from services.members.community.settings import CommunitySettings, CommunitySettingsPatch
from services.members.tables import MembersTable, timestamp_column
from services.members.vocabulary import MemberStatus, Platform, Purpose, Role, Stage


def known_timezone(value: str) -> str:
    if not clock.is_timezone(value):
        raise ValueError(f"unknown IANA timezone {value!r}")
    return value


# The shape of a tz database name. Not an enum of the ~600 names: a generated client would
# turn it into an enum type clients must spell by member name, and the set moves with tzdata.
_TIMEZONE_SCHEMA = {
    "pattern": r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$",
    "examples": ["Asia/Shanghai"],
}


class CommunityBase(SQLModel):
    name: str = Field(min_length=1, max_length=120)
    purpose: Purpose
    timezone: str = Field(
        max_length=64,
        description="An IANA time zone name, e.g. Asia/Shanghai; others are a 422.",
        schema_extra={"json_schema_extra": _TIMEZONE_SCHEMA},
    )
    description: str = Field(default="", max_length=2000)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return known_timezone(value)


class CommunityCreate(CommunityBase):
    # CommunityBase is shared with the table, so the request's strictness is set here.
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]  # a subset of SQLModelConfig

    settings: CommunitySettingsPatch | None = Field(
        default=None, description="Overrides of the purpose's default settings, by section."
    )


class CommunityUpdate(RequestModel):
    # Left out, a value stays; none of them can be cleared, so null is a 422.
    name: str = omittable(min_length=1, max_length=120)
    description: str = omittable(max_length=2000)
    timezone: str = omittable(
        max_length=64,
        description="An IANA time zone name, e.g. Asia/Shanghai; others are a 422.",
        json_schema_extra=_TIMEZONE_SCHEMA,
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return known_timezone(value)


class Community(MembersTable, CommunityBase, table=True):
    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())

    def rules(self) -> CommunitySettings:
        return CommunitySettings.model_validate(self.settings)


class CommunityPublic(CommunityBase):
    id: str
    created_at: datetime


class IdentityIn(RequestModel):
    platform: Platform
    external_id: str = Field(min_length=1, max_length=128)


class Profile(RequestModel):
    city: str | None = Field(default=None, max_length=80)
    company: str | None = Field(default=None, max_length=120)
    title: str | None = Field(default=None, max_length=120)
    intro: str | None = Field(default=None, max_length=2000)
    birthday: date | None = None
    attributes: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Custom attributes; at most 50."
    )

    @field_validator("attributes")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > 50 or any(len(k) > 64 for k in value):
            raise ValueError("at most 50 attributes, names up to 64 characters")
        return value


class MemberCreate(Profile):
    display_name: str = Field(min_length=1, max_length=120)
    identities: list[IdentityIn] = Field(min_length=1, max_length=20)
    role: Role = Role.member
    invite_code: str | None = Field(
        default=None,
        max_length=64,
        description="A member's referral code, or a community entry code.",
    )
    payment_reference: str | None = Field(
        default=None, max_length=200, description="Required by `paid` entry."
    )
    answers: list[str] | None = Field(
        default=None, max_length=50, description="Answers to the questionnaire, in order."
    )


class LeadCreate(Profile):
    display_name: str = Field(min_length=1, max_length=120)
    identities: list[IdentityIn] = Field(min_length=1, max_length=20)
    source: str | None = Field(
        default=None, max_length=120, description="The campaign it came from."
    )


class MemberUpdate(RequestModel):
    # Left out, a value stays. Null clears the profile fields that may be empty; the name,
    # the attributes and the role cannot be, so null there is a 422 naming the field.
    display_name: str = omittable(min_length=1, max_length=120)
    city: str | None = Field(default=None, max_length=80)
    company: str | None = Field(default=None, max_length=120)
    title: str | None = Field(default=None, max_length=120)
    intro: str | None = Field(default=None, max_length=2000)
    birthday: date | None = None
    attributes: dict[str, str | int | float | bool] = omittable(
        description="Merged by name into the member's attributes."
    )
    role: Role = omittable()


class Member(MembersTable, table=True):
    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    community_id: str = Field(foreign_key="community.id", index=True)
    display_name: str
    status: MemberStatus = MemberStatus.active
    role: Role = Role.member
    stage: Stage = Stage.joined
    city: str | None = None
    company: str | None = None
    title: str | None = None
    intro: str | None = None
    birthday: date | None = None
    attributes: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False)
    )
    invite_code: str
    referred_by: str | None = None
    entry_answers: list[str] | None = Field(default=None, sa_column=Column(JSONB))
    payment_reference: str | None = None
    lead_source: str | None = None
    # Maintained by chat activity (activity/) and incentives (incentives/ledger.py).
    message_count: int = 0
    last_active_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    points: int = 0
    level: int = 1
    # The member's tag ids, sorted: a copy of member_tag kept by tags/service.py for fast segments.
    tag_ids: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(Text), nullable=False, server_default="{}")
    )
    muted_until: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    merged_into: str | None = None
    # Set when the joining ritual is complete (onboarding/service.py).
    onboarded_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    joined_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class MemberRecord(Protocol):
    """What the rules read and change on a member, whether a `Member` or the chat fold's plain
    row (`activity.senders.Sender`): the lifecycle, status moves, the ledger and admissions."""

    id: str
    workspace_id: str
    community_id: str
    display_name: str
    status: MemberStatus
    role: Role
    stage: Stage
    joined_at: datetime | None
    message_count: int
    muted_until: datetime | None
    points: int
    level: int
    referred_by: str | None
    created_at: datetime


class MemberIdentity(MembersTable, table=True):
    __tablename__ = "member_identity"
    __table_args__ = (UniqueConstraint("community_id", "platform", "external_id"),)

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(foreign_key="community.id")
    member_id: str = Field(foreign_key="member.id", index=True)
    platform: Platform
    external_id: str


class MemberPublic(SQLModel):
    id: str
    community_id: str
    display_name: str
    status: MemberStatus
    role: Role
    stage: Stage
    city: str | None
    company: str | None
    title: str | None
    intro: str | None
    birthday: date | None
    attributes: dict[str, Any]
    invite_code: str
    referred_by: str | None
    message_count: int
    last_active_at: datetime | None
    points: int
    level: int
    muted_until: datetime | None
    merged_into: str | None
    onboarded_at: datetime | None
    joined_at: datetime | None
    created_at: datetime
    identities: list[IdentityIn]


class MemberTransition(MembersTable, table=True):
    """One change of a member's status: who did it, why, and when."""

    __tablename__ = "member_transition"

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    member_id: str = Field(index=True)
    from_status: MemberStatus | None
    to_status: MemberStatus
    actor: str
    reason: str | None = None
    until: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class TransitionPublic(SQLModel):
    id: str
    from_status: MemberStatus | None
    to_status: MemberStatus
    actor: str
    reason: str | None
    until: datetime | None
    at: datetime


class MoveIn(RequestModel):
    reason: str | None = Field(default=None, max_length=500)


class MuteIn(MoveIn):
    until: Instant = Field(description="When the mute ends; it is lifted by itself then.")


class MergeIn(RequestModel):
    member_id: str = Field(description="The member to fold into this one.")


class Move(StrEnum):
    approve = "approve"
    reject = "reject"
    mute = "mute"
    unmute = "unmute"
    remove = "remove"
    ban = "ban"
    unban = "unban"
