"""The content calendar (内容日历): what is said where and when, in the community's zone."""

from datetime import datetime
from typing import Any, Literal

from sqlmodel import SQLModel


class CalendarEntry(SQLModel):
    kind: Literal["schedule_occurrence", "playbook_step"]
    local: datetime
    utc: datetime
    status: str  # planned, dispatched, skipped, failed; pending, sent, cancelled for steps
    reason: str | None = None
    title: str
    content_item_id: str | None
    content_kind: str | None
    queue_kind: str | None = None
    target: dict[str, Any]
    schedule_id: str | None = None
    playbook_id: str | None = None
    run_id: str | None = None


class Calendar(SQLModel):
    community_id: str
    timezone: str
    entries: list[CalendarEntry]
    truncated: bool
