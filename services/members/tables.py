"""What every members table is built on: its own metadata and timestamp columns."""

from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime
from sqlalchemy.orm import registry
from sqlmodel import SQLModel


def timestamp_column(*, nullable: bool = False, **kwargs: Any) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable, **kwargs)


class MembersTable(SQLModel, registry=registry()):
    """Base of this service's tables: its own metadata, apart from other services'."""
