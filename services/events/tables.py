"""The base of this service's tables (its own metadata, apart from other services') and the
column shapes they share."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime
from sqlalchemy.orm import registry
from sqlmodel import SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp_column(*, nullable: bool = False, **kwargs: Any) -> Any:
    return Column(DateTime(timezone=True), nullable=nullable, **kwargs)


class EventsTable(SQLModel, registry=registry()):
    """Base of the events service's tables."""
