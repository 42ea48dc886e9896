"""The base of metrics' own tables, kept apart from other services' metadata."""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class MetricsTable(SQLModel, registry=registry()):
    """Base of this service's tables: its own metadata, apart from other services'."""
