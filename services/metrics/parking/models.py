"""Events parked until the replicas learn what they name: chat waits on its group (by the
bot's names for it), violations, check-ins and attendance on their community."""

from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from services.metrics.tables import MetricsTable


class ParkedEvent(MetricsTable, table=True):
    """One event waiting: either on a group (`platform`, `group_external_id`) or on a
    community (`community_id`), never both. `event` is the whole CloudEvent, to fold later."""

    __tablename__ = "parked_event"

    event_id: str = Field(primary_key=True)
    workspace_id: str
    event_type: str
    platform: str | None = None
    group_external_id: str | None = None
    community_id: str | None = None
    event: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    parked_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
