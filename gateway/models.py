from datetime import UTC, datetime

from sqlalchemy import Column, DateTime
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class GatewayTable(SQLModel, registry=registry()):
    """Base of the gateway's tables: its own metadata, apart from the services'."""


class ApiKey(GatewayTable, table=True):
    __tablename__ = "api_key"

    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    name: str
    # Only a SHA-256 of the key is stored; the key itself is shown once, when created.
    key_hash: str = Field(unique=True)
    prefix: str
    created_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        sa_column=Column(DateTime(timezone=True), nullable=False),
    )
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
