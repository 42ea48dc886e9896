"""Schedules: what is posted where and when, in the community's timezone."""

from datetime import datetime, time
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, model_validator
from sqlalchemy import Column, DateTime, Time
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from services.common.http.schemas import RequestModel, omittable
from services.content.library.models import ContentKind
from services.content.tables import ContentTable, now, timestamp_column


class ScheduleState(StrEnum):
    active = "active"
    paused = "paused"
    ended = "ended"  # no occurrence is left (UNTIL, COUNT, or a one-off that fired)


# Not RequestModels: pydantic allows no before-validator on a discriminator (`kind`); these
# hold only text, so refusing unknown members is all RequestModel would add.
_TARGET_CONFIG = ConfigDict(extra="forbid")


class GroupsTarget(SQLModel):
    model_config = _TARGET_CONFIG  # type: ignore[assignment]  # a subset of SQLModelConfig

    kind: Literal["groups"]
    group_ids: list[str] = Field(min_length=1, max_length=500)


class CommunityTarget(SQLModel):
    """Every group of the community that is not dissolved when an occurrence fires,
    optionally only one platform's."""

    model_config = _TARGET_CONFIG  # type: ignore[assignment]  # a subset of SQLModelConfig

    kind: Literal["community"]
    platform: str | None = Field(default=None, max_length=20)


class SegmentTarget(SQLModel):
    """One-to-one messages to the members of a segment, evaluated by the members service
    when an occurrence fires."""

    model_config = _TARGET_CONFIG  # type: ignore[assignment]  # a subset of SQLModelConfig

    kind: Literal["segment"]
    segment_id: str = Field(min_length=1, max_length=64)


Target = Annotated[GroupsTarget | CommunityTarget | SegmentTarget, Field(discriminator="kind")]


class Queue(RequestModel):
    """ "The next approved item of this kind not yet used by this schedule"."""

    kind: ContentKind


class QuietHours(RequestModel):
    start: time
    end: time


class ScheduleBase(SQLModel):
    name: str = Field(min_length=1, max_length=120)
    target: Target
    starts_at: datetime = Field(
        description="Local date-time in the schedule's timezone (DTSTART, or the one-off "
        "time), e.g. 2026-03-02T19:20:00. An offset, if given, is converted to local time."
    )
    rrule: str | None = Field(
        default=None,
        max_length=500,
        description="RFC 5545 RRULE value, e.g. FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR. "
        "Absent for a one-off.",
    )
    exdates: list[datetime] = Field(default_factory=list, max_length=500)
    quiet_hours: QuietHours | None = None


class ScheduleCreate(ScheduleBase, RequestModel):  # type: ignore[misc]  # both configs are pydantic ConfigDicts
    local_date_times = frozenset({"starts_at", "exdates"})

    content_item_id: str | None = None
    queue: Queue | None = None
    timezone: str | None = Field(
        default=None, max_length=64, description="IANA timezone; the community's if left out."
    )

    @model_validator(mode="after")
    def _one_source(self) -> "ScheduleCreate":
        if (self.content_item_id is None) == (self.queue is None):
            raise ValueError("give exactly one of content_item_id and queue")
        return self


class ScheduleUpdate(RequestModel):
    """What changes; what is left out stays. Null clears `rrule` (a one-off from then on) and
    `quiet_hours`; nothing else has an empty state."""

    local_date_times = frozenset({"starts_at", "exdates"})

    name: str = omittable(min_length=1, max_length=120)
    target: Target = omittable()
    starts_at: datetime = omittable(description="Local date-time, as when created.")
    rrule: str | None = Field(default=None, max_length=500)
    exdates: list[datetime] = omittable(max_length=500)
    quiet_hours: QuietHours | None = None
    content_item_id: str = omittable(min_length=1, max_length=64)
    queue: Queue = omittable()
    timezone: str = omittable(max_length=64)


class Schedule(ContentTable, table=True):
    __tablename__ = "schedule"

    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    community_id: str = Field(index=True)
    name: str
    content_item_id: str | None = None
    queue_kind: str | None = None
    target: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    timezone: str
    starts_at: datetime = Field(sa_column=Column(DateTime(timezone=False), nullable=False))
    rrule: str | None = None
    exdates: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    quiet_start: time | None = Field(default=None, sa_column=Column(Time, nullable=True))
    quiet_end: time | None = Field(default=None, sa_column=Column(Time, nullable=True))
    state: str = ScheduleState.active
    # The next occurrence the dispatcher has not handled yet; None once nothing is left.
    next_due_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    created_by: str
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class OccurrencePublic(SQLModel):
    local: datetime
    utc: datetime


class SchedulePublic(SQLModel):
    id: str
    community_id: str
    name: str
    content_item_id: str | None
    queue: Queue | None
    target: Target
    timezone: str
    starts_at: datetime
    rrule: str | None
    exdates: list[datetime]
    quiet_hours: QuietHours | None
    state: ScheduleState
    next_occurrence: OccurrencePublic | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class OccurrenceList(SQLModel):
    schedule_id: str
    timezone: str
    state: ScheduleState
    occurrences: list[OccurrencePublic]
