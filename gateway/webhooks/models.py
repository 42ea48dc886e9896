"""Webhook endpoints (subscriptions), the messages queued for them, and every attempt.

A message is one event bound for one endpoint: its body (a structured-mode CloudEvent) is fixed
when it is queued, so every retry sends the same bytes under the same `webhook-id`.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

import sqlmodel
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import BigInteger, Column, DateTime, Identity, LargeBinary
from sqlalchemy.dialects.postgresql import JSONB

from gateway.models import GatewayTable


def _now() -> datetime:
    return datetime.now(UTC)


def _ts(**kwargs: Any) -> Any:
    return sqlmodel.Field(sa_column=Column(DateTime(timezone=True), **kwargs))


# An exact type, or a prefix ending in `*`; said in the schema so clients see the rule.
EventTypePattern = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^*]*\*?$")]


def _check_patterns(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        if not pattern or len(pattern) > 200 or "*" in pattern.rstrip("*"):
            raise ValueError("a type, or a prefix ending in `*` (io.qunyun.member.*)")
    return patterns


class EndpointBase(BaseModel):
    url: str = Field(min_length=1, max_length=2000)
    description: str = Field(default="", max_length=500)
    # Exact types or wildcards: `io.qunyun.member.*`, `*`.
    event_types: list[EventTypePattern] = Field(
        default_factory=lambda: ["*"], min_length=1, max_length=100
    )
    # Only events of these communities; None means every community of the workspace.
    community_ids: list[str] | None = Field(default=None, max_length=1000)
    rate_limit_per_second: float | None = Field(default=None, gt=0, le=10_000)
    # Keep each community's events in order for this endpoint (one in flight per community).
    ordered: bool = True

    @field_validator("event_types")
    @classmethod
    def _patterns_are_sane(cls, value: list[str]) -> list[str]:
        return _check_patterns(value)


class EndpointCreate(EndpointBase):
    active: bool = True
    secret: str | None = Field(
        default=None, description="A `whsec_` secret of 24-64 bytes; one is made if absent."
    )


class EndpointUpdate(BaseModel):
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[EventTypePattern] | None = Field(default=None, min_length=1, max_length=100)
    community_ids: list[str] | None = None
    rate_limit_per_second: float | None = Field(default=None, gt=0, le=10_000)
    ordered: bool | None = None
    active: bool | None = None

    @field_validator("event_types")
    @classmethod
    def _patterns_are_sane(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_patterns(value)


class WebhookEndpoint(GatewayTable, table=True):
    __tablename__ = "webhook_endpoint"

    id: str = sqlmodel.Field(primary_key=True)
    workspace_id: str = sqlmodel.Field(index=True)
    url: str
    description: str = ""
    event_types: list[str] = sqlmodel.Field(sa_column=Column(JSONB, nullable=False))
    community_ids: list[str] | None = sqlmodel.Field(default=None, sa_column=Column(JSONB))
    rate_limit_per_second: float | None = None
    ordered: bool = True
    active: bool = True
    secret: str
    # During a rotation's overlap both secrets sign, so receivers can switch at their pace.
    previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = _ts()
    integration_id: str | None = None
    # Start of the current run of failed attempts; None while deliveries succeed.
    failing_since: datetime | None = _ts()
    disabled_reason: str | None = None
    disabled_at: datetime | None = _ts()
    created_at: datetime = sqlmodel.Field(
        default_factory=_now, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class EndpointPublic(EndpointBase):
    id: str
    active: bool
    integration_id: str | None
    failing_since: datetime | None
    disabled_reason: str | None
    disabled_at: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime


class EndpointCreated(EndpointPublic):
    secret: str = Field(description="Shown once: verify deliveries with it (Standard Webhooks).")


class SecretRotation(BaseModel):
    secret: str | None = Field(default=None, description="The new secret; one is made if absent.")
    overlap_seconds: float | None = Field(
        default=None, ge=0, le=7 * 86400, description="How long the old secret still signs."
    )


class SecretRotated(BaseModel):
    secret: str
    previous_secret_expires_at: datetime | None


class WebhookMessage(GatewayTable, table=True):
    __tablename__ = "webhook_message"

    id: str = sqlmodel.Field(primary_key=True)
    # Queue order; within one ordering key, the lowest pending seq goes first.
    seq: int | None = sqlmodel.Field(
        default=None, sa_column=Column(BigInteger, Identity(), nullable=False, unique=True)
    )
    endpoint_id: str = sqlmodel.Field(foreign_key="webhook_endpoint.id")
    workspace_id: str
    event_id: str
    event_type: str
    community_id: str | None = None
    # The community (ordered endpoints) or the message itself (unordered): one in flight each.
    ordering_key: str
    event_time: datetime = sqlmodel.Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    body: bytes = sqlmodel.Field(sa_column=Column(LargeBinary, nullable=False))
    state: str = "pending"  # pending, delivered, failed
    attempts: int = 0
    next_attempt_at: datetime = sqlmodel.Field(
        sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    leased_until: datetime | None = _ts()
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: datetime = sqlmodel.Field(
        default_factory=_now, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    finished_at: datetime | None = _ts()


class MessagePublic(BaseModel):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    community_id: str | None
    event_time: datetime
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class WebhookAttempt(GatewayTable, table=True):
    __tablename__ = "webhook_attempt"

    id: str = sqlmodel.Field(primary_key=True)
    message_id: str = sqlmodel.Field(foreign_key="webhook_message.id")
    endpoint_id: str
    attempted_at: datetime = sqlmodel.Field(
        sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    # delivered, http_error, gone, timeout, connection_error, blocked
    outcome: str
    status_code: int | None = None
    latency_ms: float
    response_excerpt: str = ""
    error: str | None = None


class AttemptPublic(BaseModel):
    id: str
    message_id: str
    attempted_at: datetime
    outcome: str
    status_code: int | None
    latency_ms: float
    response_excerpt: str
    error: str | None


class Redelivery(BaseModel):
    since: datetime = Field(description="Requeue every failed message queued at or after this.")


class RedeliveryQueued(BaseModel):
    queued: int


class EventTypePublic(BaseModel):
    type: str
    topic: str
    description: str


class PingQueued(BaseModel):
    message_id: str
    event_id: str
