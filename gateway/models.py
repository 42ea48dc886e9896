from datetime import UTC, datetime

from sqlalchemy import Column, DateTime
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class GatewayTable(SQLModel, registry=registry()):
    """Base of the gateway's tables: its own metadata, apart from the services'."""


class Integration(GatewayTable, table=True):
    """A third-party tool (a chat bot) that pushes group activity to us, signing each request."""

    __tablename__ = "integration"

    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    name: str
    # Kept as is: verifying an HMAC needs the secret itself, not a hash of it.
    secret: str
    created_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        sa_column=Column(DateTime(timezone=True), nullable=False),
    )
    disabled_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class InboundDelivery(GatewayTable, table=True):
    """Each webhook id an integration sent, so a retried delivery is accepted once."""

    __tablename__ = "inbound_delivery"

    integration_id: str = Field(primary_key=True)
    webhook_id: str = Field(primary_key=True)
    event_id: str
    # SHA-256 of the pushed event as canonical JSON; null for deliveries from before 0004.
    body_digest: str | None = None
    received_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        sa_column=Column(DateTime(timezone=True), nullable=False),
    )
