"""Chat groups (群), who is in them, and places held for newcomers (群活码): tables and the
API's shapes, in the SQLModel family style of community/models.py."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from services.common.clock import now
from services.common.http.schemas import Instant, RequestModel, omittable
from services.members.tables import MembersTable, timestamp_column
from services.members.vocabulary import Platform

MAX_CAPACITY = 1_000_000


class GroupKind(StrEnum):
    permanent = "permanent"
    temporary = "temporary"  # 临时群: dissolved at `dissolve_at`


class GroupState(StrEnum):
    filling = "filling"
    full = "full"
    dissolved = "dissolved"


class AssignmentStatus(StrEnum):
    open = "open"  # the place is held until `expires_at`
    fulfilled = "fulfilled"  # the member joined the group
    expired = "expired"  # a no-show: the place was freed
    cancelled = "cancelled"  # the group was dissolved, or the member found a group elsewhere


class Group(MembersTable, table=True):
    __tablename__ = "chat_group"
    __table_args__ = (
        sa.UniqueConstraint(
            "workspace_id", "platform", "external_id", name="uq_chat_group_platform_id"
        ),
        # Deferrable so one UPDATE can shift a run of positions when a group is moved.
        sa.UniqueConstraint(
            "community_id",
            "position",
            name="uq_chat_group_position",
            deferrable=True,
            initially="IMMEDIATE",
        ),
        sa.Index(
            "uq_chat_group_activity",
            "workspace_id",
            "activity_id",
            unique=True,
            postgresql_where=sa.text("activity_id IS NOT NULL"),
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
    activity_id: str | None = Field(
        default=None, description="The activity (events service) this temporary group is for."
    )
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())
    dissolved_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class GroupMembership(MembersTable, table=True):
    """Who is in which group now (left_at is None) or was."""

    __tablename__ = "group_membership"

    group_id: str = Field(primary_key=True, foreign_key="chat_group.id")
    member_id: str = Field(primary_key=True, foreign_key="member.id", index=True)
    workspace_id: str
    joined_at: datetime = Field(default_factory=now, sa_column=timestamp_column())
    left_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class GroupAssignment(MembersTable, table=True):
    """A place in a group held for a member who was sent its invitation; it counts against
    the group's capacity until the member joins or it expires."""

    __tablename__ = "group_assignment"
    __table_args__ = (
        sa.Index(
            "uq_group_assignment_open_member",
            "member_id",
            unique=True,
            postgresql_where=sa.text("status = 'open'"),
        ),
        sa.Index(
            "ix_group_assignment_open_group",
            "group_id",
            "expires_at",
            postgresql_where=sa.text("status = 'open'"),
        ),
        sa.Index(
            "ix_group_assignment_open_expiry",
            "expires_at",
            postgresql_where=sa.text("status = 'open'"),
        ),
    )

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(foreign_key="community.id")
    group_id: str = Field(foreign_key="chat_group.id")
    member_id: str = Field(foreign_key="member.id")
    segment_id: str | None = None
    status: AssignmentStatus = AssignmentStatus.open
    expires_at: datetime = Field(sa_column=timestamp_column())
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())
    closed_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class GroupCreate(RequestModel):
    platform: Platform
    external_id: str = Field(
        min_length=1, max_length=128, description="The group's id on its platform."
    )
    name: str = Field(min_length=1, max_length=120)
    capacity: int | None = Field(
        default=None,
        ge=1,
        le=MAX_CAPACITY,
        description="Defaults to the community's `groups.default_capacity` for the platform.",
    )
    kind: GroupKind = GroupKind.permanent
    dissolve_at: Instant | None = Field(
        default=None, description="Required for a temporary group, in the future."
    )
    segment_id: str | None = Field(
        default=None, max_length=64, description="Only assignments naming this segment."
    )


class GroupUpdate(RequestModel):
    # Left out, a value stays; none can be cleared, so null is a 422 naming the field.
    name: str = omittable(min_length=1, max_length=120)
    capacity: int = omittable(ge=1, le=MAX_CAPACITY)
    position: int = omittable(ge=1, description="Move here; the groups in between shift by one.")
    dissolve_at: Instant = omittable()


class GroupPublic(SQLModel):
    id: str
    community_id: str
    platform: Platform
    external_id: str
    name: str
    capacity: int
    kind: GroupKind
    state: GroupState
    position: int
    dissolve_at: datetime | None
    dissolved_at: datetime | None
    segment_id: str | None
    activity_id: str | None = Field(
        default=None,
        description="The activity that asked for this temporary group, if one did.",
    )
    created_at: datetime
    members: int = Field(description="People in the group now.")
    held_places: int = Field(description="Places held for invited newcomers, not yet joined.")
    room: int = Field(description="Places left: capacity − members − held places (≥ 0).")


class GroupMemberPublic(SQLModel):
    member_id: str
    display_name: str
    joined_at: datetime
    left_at: datetime | None


class AssignmentCreate(RequestModel):
    member_id: str = Field(min_length=1, max_length=64)
    segment_id: str | None = Field(
        default=None, max_length=64, description="Place the member in this segment's groups."
    )
    include_temporary: bool = Field(
        default=False, description="Temporary groups take newcomers too."
    )


class AssignmentPublic(SQLModel):
    id: str
    community_id: str
    group_id: str
    member_id: str
    segment_id: str | None
    status: AssignmentStatus
    expires_at: datetime
    created_at: datetime
    closed_at: datetime | None
    platform: Platform
    group_external_id: str
    group_name: str
