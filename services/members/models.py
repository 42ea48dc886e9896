"""Members' tables and API shapes, in the SQLModel family style (Base, Create, table, Public)."""

from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator
from sqlalchemy import Column, DateTime, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


def _timestamp(**kwargs: object) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=False, **kwargs)


class MembersTable(SQLModel, registry=registry()):
    """Base of this service's tables: its own metadata, apart from other services'."""


class Purpose(StrEnum):
    """Why a community exists (DOMAIN.md rule 1); it picks sensible defaults."""

    product_sales = "product_sales"
    value_added_service = "value_added_service"
    networking = "networking"
    interest = "interest"
    brand = "brand"
    personal_influence = "personal_influence"
    paid_knowledge = "paid_knowledge"


class Platform(StrEnum):
    wechat = "wechat"
    wecom = "wecom"
    qq = "qq"
    telegram = "telegram"
    discord = "discord"
    other = "other"


class CommunityBase(SQLModel):
    name: str = Field(min_length=1, max_length=120)
    purpose: Purpose
    timezone: str = Field(max_length=64, description="IANA timezone, e.g. Asia/Shanghai")
    description: str = Field(default="", max_length=2000)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r}") from exc
        return value


class CommunityCreate(CommunityBase):
    pass


class Community(MembersTable, CommunityBase, table=True):
    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    created_at: datetime = Field(default_factory=_now, sa_column=_timestamp())


class CommunityPublic(CommunityBase):
    id: str
    created_at: datetime


class IdentityIn(SQLModel):
    platform: Platform
    external_id: str = Field(min_length=1, max_length=128)


class MemberCreate(SQLModel):
    display_name: str = Field(min_length=1, max_length=120)
    identities: list[IdentityIn] = Field(min_length=1, max_length=20)


class MemberStatus(StrEnum):
    pending = "pending"
    active = "active"
    muted = "muted"
    removed = "removed"
    banned = "banned"


class Member(MembersTable, table=True):
    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    community_id: str = Field(foreign_key="community.id", index=True)
    display_name: str
    status: MemberStatus = MemberStatus.active
    role: str = "member"
    stage: str = "joined"
    joined_at: datetime = Field(default_factory=_now, sa_column=_timestamp())


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
    role: str
    stage: str
    joined_at: datetime
    identities: list[IdentityIn]
