"""Chat groups (群) of a community and who is in them."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from fastapi import APIRouter
from sqlmodel import Field

from services.members.models import MembersTable, Platform, now, timestamp_column

router = APIRouter(prefix="/v1", tags=["groups"])


class GroupKind(StrEnum):
    permanent = "permanent"
    temporary = "temporary"  # 临时群: dissolved at `dissolve_at`


class GroupState(StrEnum):
    filling = "filling"
    full = "full"
    dissolved = "dissolved"


class Group(MembersTable, table=True):
    __tablename__ = "chat_group"
    __table_args__ = (
        sa.UniqueConstraint(
            "workspace_id", "platform", "external_id", name="uq_chat_group_platform_id"
        ),
    )

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(foreign_key="community.id", index=True)
    platform: Platform
    external_id: str
    name: str
    capacity: int
    kind: GroupKind = GroupKind.permanent
    state: GroupState = GroupState.filling
    position: int = Field(description="Order in which groups fill (群活码).")
    dissolve_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    segment_id: str | None = Field(default=None, description="A small group for one segment.")
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class GroupMembership(MembersTable, table=True):
    """Who is in which group now (left_at is None) or was."""

    __tablename__ = "group_membership"

    group_id: str = Field(primary_key=True, foreign_key="chat_group.id")
    member_id: str = Field(primary_key=True, foreign_key="member.id", index=True)
    workspace_id: str
    joined_at: datetime = Field(default_factory=now, sa_column=timestamp_column())
    left_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
