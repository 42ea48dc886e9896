"""Alerts and the thresholds that open them, per community."""

from datetime import datetime
from typing import Any

import pydantic
from sqlalchemy import Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from services.common.http.schemas import RequestModel
from services.metrics.tables import MetricsTable


def _at(nullable: bool = False) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_column=Column(DateTime(timezone=True), nullable=nullable),
    )


class Alert(MetricsTable, table=True):
    """One alert's life: opened once, resolved once. At most one open alert per group (or
    community, `group_id` "") and kind: a partial unique index holds that."""

    __tablename__ = "alert"

    alert_id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(index=True)
    group_id: str
    kind: str
    reason: str
    value: float
    threshold: float
    opened_at: datetime = _at()
    resolved_at: datetime | None = _at(nullable=True)
    # Passes in a row that found the condition over; it resolves at the threshold's count.
    clear_checks: int = 0


class AlertThresholds(MetricsTable, table=True):
    """A community's own thresholds, laid over the defaults of its purpose."""

    __tablename__ = "alert_thresholds"

    community_id: str = Field(primary_key=True)
    workspace_id: str
    overrides: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    updated_at: datetime = _at()


class PublicationFailure(MetricsTable, table=True):
    """A publication the bot did not say: it failed (`error` is the bot's) or no result came
    in time (expired). Deleted when a late `published` result says it was said after all."""

    __tablename__ = "publication_failure"

    publication_id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    group_id: str  # "" for a one-to-one message to a member
    outcome: str  # failed | expired
    error: str | None = None
    at: datetime = _at()


class Thresholds(SQLModel):
    """When an alert opens. Defaults by community purpose in `thresholds.py`."""

    silent_days: int = Field(
        default=3, ge=1, le=60, description="A group with no member message for this many days."
    )
    speakers_drop_pct: float = Field(
        default=50,
        gt=0,
        le=100,
        description="Speaker-days of the last 7 days down this much on the weekly mean of the "
        "4 weeks before.",
    )
    speakers_drop_min_baseline: float = Field(
        default=5, ge=0, description="...only when that weekly mean is at least this."
    )
    shrinking_pct: float = Field(
        default=5, gt=0, le=100, description="Net loss in 7 days, as a % of members 7 days ago."
    )
    broadcast_only_days: int = Field(
        default=7, ge=1, le=14, description="Only operators spoke on this many of the last 14 days."
    )
    negative_spike_min: int = Field(
        default=5, ge=1, description="Complaint messages today, at least this many..."
    )
    negative_spike_factor: float = Field(
        default=3, ge=1, description="...and this many times the daily mean of the 28 days before."
    )
    publication_failures_min: int = Field(
        default=2,
        ge=1,
        description="Publications not said (failed, or no result from the bot in time) in a "
        "group, or in the whole community, within the window below.",
    )
    publication_failure_hours: int = Field(
        default=24, ge=1, le=168, description="...the window, in hours up to now."
    )
    clear_checks: int = Field(
        default=2,
        ge=1,
        le=20,
        description="Passes (every 10 minutes) the condition must stay over before the alert "
        "resolves, so it does not flap.",
    )


class ThresholdsUpdate(RequestModel):
    """Only the thresholds to change; `null` returns one to its purpose's default."""

    silent_days: int | None = pydantic.Field(default=None, ge=1, le=60)
    speakers_drop_pct: float | None = pydantic.Field(default=None, gt=0, le=100)
    speakers_drop_min_baseline: float | None = pydantic.Field(default=None, ge=0)
    shrinking_pct: float | None = pydantic.Field(default=None, gt=0, le=100)
    broadcast_only_days: int | None = pydantic.Field(default=None, ge=1, le=14)
    negative_spike_min: int | None = pydantic.Field(default=None, ge=1)
    negative_spike_factor: float | None = pydantic.Field(default=None, ge=1)
    publication_failures_min: int | None = pydantic.Field(default=None, ge=1)
    publication_failure_hours: int | None = pydantic.Field(default=None, ge=1, le=168)
    clear_checks: int | None = pydantic.Field(default=None, ge=1, le=20)


class AlertPublic(SQLModel):
    alert_id: str
    community_id: str
    group_id: str | None
    kind: str
    reason: str
    value: float
    threshold: float
    opened_at: datetime
    resolved_at: datetime | None


class AlertPage(SQLModel):
    data: list[AlertPublic]
    next_cursor: str | None
