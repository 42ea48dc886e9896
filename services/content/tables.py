"""What every content table shares: its own metadata (apart from other services'), UTC
timestamps."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime
from sqlalchemy.orm import registry
from sqlmodel import SQLModel


def now() -> datetime:
    return datetime.now(UTC)


def timestamp_column(*, nullable: bool = False, **kwargs: Any) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable, **kwargs)


class ContentTable(SQLModel, registry=registry()):
    """Base of this service's tables."""
