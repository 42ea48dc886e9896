"""Members' submissions (投稿, UGC): a review queue in front of the content library."""

from datetime import datetime
from enum import StrEnum
from typing import Any

import pydantic
from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from services.common.http.schemas import RequestModel
from services.content.library.models import ContentKind, Media, MediaPublic, ValueDimension
from services.content.tables import ContentTable, now, timestamp_column


class SubmissionStatus(StrEnum):
    pending = "pending"
    accepted = "accepted"
    rejected = "rejected"


class SubmissionCreate(RequestModel):
    member_id: str = Field(min_length=1, max_length=64)
    title: str = Field(default="", max_length=200)
    body: str = Field(min_length=1, max_length=20_000)
    media: list[Media] = Field(default_factory=list, max_length=20)


class Acceptance(RequestModel):
    kind: ContentKind = ContentKind.ugc
    value_dimension: ValueDimension | None = None
    title: str | None = Field(
        default=None, min_length=1, max_length=200, description="The item's title if changed."
    )
    member_id: str | None = Field(
        default=None,
        max_length=64,
        description="Whom to credit when a bot's submission came from someone members has "
        "not told us about.",
    )


# Something to read: Python's isspace() counts the separators \x1c-\x1f, the schema's \s not.
_SOME_TEXT = r"[^\s\x1c-\x1f]"


class Rejection(RequestModel):
    reason: str = pydantic.Field(
        max_length=2000, pattern=_SOME_TEXT, description="Told to the author; not blank."
    )


class Submission(ContentTable, table=True):
    __tablename__ = "submission"

    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    community_id: str = Field(index=True)
    member_id: str | None = None
    platform: str | None = None
    sender_external_id: str | None = None
    sender_display_name: str | None = None
    title: str
    body: str
    media: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False)
    )
    source: str  # api or bot
    status: str = SubmissionStatus.pending
    reason: str | None = None
    reviewer: str | None = None
    reviewed_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    content_item_id: str | None = None
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class SubmissionPublic(SQLModel):
    id: str
    community_id: str
    member_id: str | None
    platform: str | None
    sender_external_id: str | None
    sender_display_name: str | None
    title: str
    body: str
    media: list[MediaPublic]
    source: str
    status: SubmissionStatus
    reason: str | None
    reviewer: str | None
    reviewed_at: datetime | None
    content_item_id: str | None
    created_at: datetime
