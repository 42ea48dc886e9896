"""Occurrences as they were handled, and publications: one per occurrence and target."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from services.content.tables import ContentTable, now, timestamp_column


class OccurrenceStatus(StrEnum):
    dispatched = "dispatched"
    skipped = "skipped"
    failed = "failed"


class PublicationStatus(StrEnum):
    due = "due"
    dispatched = "dispatched"
    published = "published"
    failed = "failed"
    expired = "expired"


class OccurrenceRecord(ContentTable, table=True):
    """What became of one occurrence of a schedule; at most one row per occurrence."""

    __tablename__ = "occurrence"
    __table_args__ = (UniqueConstraint("schedule_id", "occurs_at"),)

    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    community_id: str = Field(index=True)
    schedule_id: str
    occurs_at: datetime = Field(sa_column=timestamp_column())
    status: str
    reason: str | None = None
    late: bool = False
    content_item_id: str | None = None
    publications: int = 0
    handled_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class Publication(ContentTable, table=True):
    """One post of one occurrence in one group (or to one member). The unique key is what
    makes "exactly once" hold, whichever replica dispatches."""

    __tablename__ = "publication"
    __table_args__ = (
        UniqueConstraint("schedule_id", "occurs_at", "target_key"),
        UniqueConstraint("playbook_run_id", "target_key"),
    )

    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    community_id: str = Field(index=True)
    schedule_id: str | None = None  # the schedule, or
    playbook_run_id: str | None = None  # the playbook run it comes from
    occurs_at: datetime = Field(sa_column=timestamp_column())
    # The group id, or "member:<id>" for a one-to-one message; "step:<n>" in a playbook run.
    target_key: str
    group_id: str | None = None
    member_id: str | None = None
    platform: str
    external_id: str
    content_item_id: str
    content_revision: int
    text: str
    media: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False)
    )
    status: str = PublicationStatus.due
    late: bool = False
    dispatched_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    result_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    external_message_id: str | None = None
    error: str | None = None


class PublicationPublic(SQLModel):
    id: str
    community_id: str
    schedule_id: str | None
    playbook_run_id: str | None
    occurs_at: datetime
    group_id: str | None
    member_id: str | None
    platform: str
    external_id: str
    content_item_id: str
    content_revision: int
    text: str
    status: PublicationStatus
    late: bool
    dispatched_at: datetime | None
    result_at: datetime | None
    external_message_id: str | None
    error: str | None


class OccurrenceRecordPublic(SQLModel):
    id: str
    schedule_id: str
    occurs_at: datetime
    status: OccurrenceStatus
    reason: str | None
    late: bool
    content_item_id: str | None
    publications: int
    handled_at: datetime
