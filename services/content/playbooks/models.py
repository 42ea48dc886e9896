"""SOP playbooks (社群SOP): steps timed from an anchor (a member joined the community or a
group, a group was created), one run per anchor, per-step state, end actions."""

from datetime import datetime, time
from enum import StrEnum
from typing import Any, Literal

from pydantic import model_validator
from sqlalchemy import Column, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from services.common.http.schemas import RequestModel, omittable
from services.content.tables import ContentTable, now, timestamp_column


class Anchor(StrEnum):
    member_joined_community = "member_joined_community"
    member_joined_group = "member_joined_group"
    group_created = "group_created"


class RunState(StrEnum):
    running = "running"
    completed = "completed"
    cancelled = "cancelled"


class StepState(StrEnum):
    pending = "pending"
    sent = "sent"
    skipped = "skipped"
    cancelled = "cancelled"


class SendWindow(RequestModel):
    start: time
    end: time


class Step(RequestModel):
    """When: `after_minutes` after the anchor ("+2 h" is 120), or `day` days after the
    anchor's local day `at` a local time ("day 1 at 09:00"). A time outside the send window
    moves to the window's next opening."""

    content_item_id: str = Field(min_length=1, max_length=64)
    after_minutes: int | None = Field(default=None, ge=0, le=60 * 24 * 366)
    day: int | None = Field(default=None, ge=0, le=366)
    at: time | None = None
    window: SendWindow | None = None
    to: Literal["member", "group"] = Field(
        default="member",
        description="One-to-one to the member, or in the anchor's group (group anchors only).",
    )

    @model_validator(mode="after")
    def _one_timing(self) -> "Step":
        relative = self.after_minutes is not None
        calendar = self.day is not None and self.at is not None
        if relative == calendar:
            raise ValueError("give either after_minutes, or day and at")
        return self


class EndActions(RequestModel):
    add_tag: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        description="Members puts this tag on the member (created there if the community "
        "lacks it; a tag name is at most 40 characters).",
    )
    start_playbook_id: str | None = Field(default=None, max_length=64)


class PlaybookCreate(RequestModel):
    name: str = Field(min_length=1, max_length=120)
    anchor: Anchor
    group_ids: list[str] = Field(
        default_factory=list, max_length=200, description="Only these groups' anchors, if any."
    )
    steps: list[Step] = Field(min_length=1, max_length=50)
    end_actions: EndActions = Field(default_factory=EndActions)


class PlaybookUpdate(RequestModel):
    """What changes; what is left out stays. Runs already started keep the times their steps
    were planned at; their steps not yet sent take the new content and target, and steps
    removed from the end are cancelled. New anchors start runs of the new definition."""

    name: str = omittable(min_length=1, max_length=120)
    group_ids: list[str] = omittable(max_length=200)
    steps: list[Step] = omittable(min_length=1, max_length=50)
    end_actions: EndActions = omittable()


class Playbook(ContentTable, table=True):
    __tablename__ = "playbook"

    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    community_id: str = Field(index=True)
    name: str
    anchor: str
    group_ids: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    steps: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    end_actions: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    active: bool = True
    created_by: str
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class PlaybookRun(ContentTable, table=True):
    __tablename__ = "playbook_run"
    __table_args__ = (UniqueConstraint("playbook_id", "anchor_key"),)

    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    community_id: str = Field(index=True)
    playbook_id: str
    anchor_key: str  # what the run is for: "member:<id>", "member:<id>@<group>", "group:<id>"
    member_id: str | None = Field(default=None, index=True)
    group_id: str | None = None
    platform: str | None = None  # the member's identity for one-to-one steps
    external_id: str | None = None
    anchored_at: datetime = Field(sa_column=timestamp_column())
    state: str = RunState.running
    ended_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class PlaybookStep(ContentTable, table=True):
    __tablename__ = "playbook_step"

    run_id: str = Field(primary_key=True)
    position: int = Field(primary_key=True)
    workspace_id: str
    due_at: datetime = Field(sa_column=timestamp_column())
    state: str = StepState.pending
    reason: str | None = None
    publication_id: str | None = None
    handled_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class PlaybookPublic(PlaybookCreate):
    id: str
    community_id: str
    active: bool
    created_by: str
    created_at: datetime


class StepPublic(SQLModel):
    position: int
    due_at: datetime
    state: StepState
    reason: str | None
    publication_id: str | None


class RunPublic(SQLModel):
    id: str
    playbook_id: str
    member_id: str | None
    group_id: str | None
    anchored_at: datetime
    state: RunState
    ended_at: datetime | None
    steps: list[StepPublic]
