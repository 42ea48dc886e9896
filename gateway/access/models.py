"""API keys: the table and what the API takes and shows of them."""

from datetime import UTC, datetime

from pydantic import BaseModel, field_validator
from pydantic import Field as PydanticField
from sqlalchemy import Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from gateway.access.scopes import Scope
from gateway.models import GatewayTable
from services.common.http.schemas import RequestModel


class ApiKey(GatewayTable, table=True):
    __tablename__ = "api_key"

    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    name: str
    # Only a SHA-256 of the key is stored; the key itself is shown once, when created.
    key_hash: str = Field(unique=True)
    prefix: str
    scopes: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        sa_column=Column(DateTime(timezone=True), nullable=False),
    )
    # Recorded at most once a minute per key (see service.authenticate): close, not exact.
    last_used_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # The key this one replaced when it was rotated.
    rotated_from: str | None = None


class ApiKeyCreate(RequestModel):
    name: str = PydanticField(min_length=1, max_length=120)
    scopes: list[Scope] = PydanticField(
        min_length=1,
        max_length=20,
        description="What the key may do; `admin` implies every scope.",
    )

    @field_validator("scopes")
    @classmethod
    def _once_each(cls, scopes: list[Scope]) -> list[Scope]:
        return list(dict.fromkeys(scopes))


class ApiKeyPublic(BaseModel):
    id: str
    name: str
    prefix: str = PydanticField(description="The key's first characters, to recognise it.")
    scopes: list[Scope]
    created_at: datetime
    last_used_at: datetime | None = PydanticField(
        description="When the key last authenticated a call, to within about a minute."
    )
    revoked_at: datetime | None
    rotated_from: str | None = PydanticField(description="The key this one replaced.")


class ApiKeyCreated(ApiKeyPublic):
    key: str | None = PydanticField(
        description="The key itself, shown in this answer only (it is stored hashed). Null when "
        "an `Idempotency-Key` replays an earlier creation: rotate the key if that answer was "
        "lost."
    )
