"""The content calendar (内容日历): what is said where and when, in the community's zone."""

from datetime import datetime
from typing import Any, Literal

from sqlmodel import SQLModel


class CalendarEntry(SQLModel):
    kind: Literal["schedule_occurrence", "playbook_step", "activity_session"]
    local: datetime
    utc: datetime
    # planned, dispatched, skipped, failed for occurrences; pending, sent, cancelled for
    # steps; scheduled, closed, cancelled for sessions
    status: str
    reason: str | None = None
    title: str
    content_item_id: str | None
    content_kind: str | None
    queue_kind: str | None = None
    target: dict[str, Any]
    schedule_id: str | None = None
    playbook_id: str | None = None
    run_id: str | None = None
    activity_id: str | None = None
    session_id: str | None = None
    ends_utc: datetime | None = None  # sessions last; the others are instants


class Calendar(SQLModel):
    community_id: str
    timezone: str
    entries: list[CalendarEntry]
    truncated: bool
