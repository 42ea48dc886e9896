"""Saved segments (table) and the API shapes of segments, counts and previews."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field as SQLField

from services.common.clock import now
from services.common.http.pagination import Page
from services.common.http.schemas import RequestModel
from services.members.community.models import (
    MemberPublic,
)
from services.members.segments.rules import SegmentRules
from services.members.tables import MembersTable, timestamp_column


class Segment(MembersTable, table=True):
    __tablename__ = "segment"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "name", name="uq_segment_community_name"),
    )

    id: str = SQLField(primary_key=True)
    workspace_id: str
    community_id: str = SQLField(foreign_key="community.id")
    name: str
    rules: dict[str, Any] = SQLField(sa_column=sa.Column(JSONB, nullable=False))
    created_by: str
    created_at: datetime = SQLField(default_factory=now, sa_column=timestamp_column())
    updated_at: datetime = SQLField(default_factory=now, sa_column=timestamp_column())

    def selection(self) -> SegmentRules:
        return SegmentRules.model_validate(self.rules)


class SegmentIn(RequestModel):
    name: str = Field(min_length=1, max_length=80)
    rules: SegmentRules = Field(default_factory=SegmentRules)


class SegmentUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    rules: SegmentRules | None = None


class SegmentPublic(BaseModel):
    id: str
    name: str
    rules: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime


class PreviewIn(RequestModel):
    rules: SegmentRules = Field(default_factory=SegmentRules)


class SegmentCount(BaseModel):
    count: int
    as_of: datetime


class Preview(Page[MemberPublic]):
    count: int
    as_of: datetime
