"""Outreach: operator accounts and friend-request tasks (tables) and their API shapes."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

import sqlalchemy as sa
from pydantic import BaseModel, StringConstraints
from sqlmodel import Field

from services.common.clock import now
from services.common.contracts import PlatformIdentity
from services.common.http.schemas import RequestModel
from services.members.tables import MembersTable, timestamp_column
from services.members.vocabulary import Platform

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class AccountIn(RequestModel):
    name: Name
    platform: Platform
    external_id: ExternalId
    daily_cap: int | None = Field(
        default=None, ge=1, le=500, description="Default: the community's outreach setting."
    )


class AccountPublic(BaseModel):
    id: str
    name: str
    platform: Platform
    external_id: str
    daily_cap: int = Field(description="In force today: the account's own or the community's.")
    used_today: int
    remaining_today: int
    queued: int
    created_at: datetime


class TasksIn(RequestModel):
    account_id: str
    member_ids: list[str] = Field(min_length=1, max_length=500)


class BatchIn(RequestModel):
    size: int | None = Field(default=None, ge=1, le=500, description="Default: all that's left.")


class ResultIn(RequestModel):
    outcome: Literal["accepted", "declined", "failed"]


class TaskStatus(StrEnum):
    queued = "queued"
    issued = "issued"  # handed to the bot; counts against the day's cap
    accepted = "accepted"
    declined = "declined"
    failed = "failed"
    cancelled = "cancelled"  # the member was banned or merged before the request went out


class OutreachAccount(MembersTable, table=True):
    __tablename__ = "outreach_account"
    __table_args__ = (
        sa.UniqueConstraint(
            "community_id", "platform", "external_id", name="uq_outreach_account_identity"
        ),
    )

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(foreign_key="community.id")
    name: str
    platform: Platform
    external_id: str
    daily_cap: int | None = None
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class OutreachTask(MembersTable, table=True):
    __tablename__ = "outreach_task"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "member_id", name="uq_outreach_task_member"),
    )

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    account_id: str = Field(foreign_key="outreach_account.id")
    member_id: str = Field(foreign_key="member.id")
    status: TaskStatus = TaskStatus.queued
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())
    issued_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    outcome_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class TaskPublic(BaseModel):
    id: str
    account_id: str
    member_id: str
    status: TaskStatus
    created_at: datetime
    issued_at: datetime | None
    outcome_at: datetime | None


class IssuedTask(TaskPublic):
    display_name: str
    identities: list[PlatformIdentity] = Field(description="Whom to send the request to.")


class TasksQueued(BaseModel):
    queued: list[TaskPublic]
    already_queued: list[str] = Field(description="Members this account already had a task for.")


class Batch(BaseModel):
    tasks: list[IssuedTask]
    used_today: int
    remaining_today: int
