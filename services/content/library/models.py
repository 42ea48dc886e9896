"""Content items, their review and their revisions, in the SQLModel family style."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import HttpUrl, UrlConstraints
from sqlalchemy import Column, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from services.common.http.schemas import RequestModel, omittable
from services.content.tables import ContentTable, now, timestamp_column


class ContentKind(StrEnum):
    morning_brief = "morning_brief"
    article = "article"
    topic = "topic"
    announcement = "announcement"
    rules_reminder = "rules_reminder"
    product = "product"
    story = "story"
    ugc = "ugc"
    ad = "ad"


class ValueDimension(StrEnum):
    """The six kinds of continuous value a community gives (DOMAIN.md rule 13)."""

    benefits = "benefits"
    information = "information"
    resources = "resources"
    cases = "cases"
    activities = "activities"
    connections = "connections"


class ContentStatus(StrEnum):
    draft = "draft"
    in_review = "in_review"
    approved = "approved"
    archived = "archived"


class Media(RequestModel):
    # Bounded below pydantic's 2083: a URL is stored as pydantic normalises it (a trailing
    # slash, an IDN host in punycode), which can be longer than what was sent.
    url: Annotated[HttpUrl, UrlConstraints(max_length=2000)]
    type: str = Field(default="image", max_length=20, description="image, video, file, link")


class MediaPublic(SQLModel):
    """Media as stored: the URL is shown as kept, not checked again; an edit stores only what
    was sent, so a type left out is the default one."""

    url: str
    type: str = "image"


class ContentBase(SQLModel):
    kind: ContentKind
    value_dimension: ValueDimension | None = None
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(
        max_length=20_000,
        description="Text; `{{silent_members}}`, `{{new_members}}` and other @-mention "
        "placeholders are left for the bot to fill; `{{community_name}}` and `{{group_name}}` "
        "are filled here.",
    )
    media: list[Media] = Field(default_factory=list, max_length=20)
    tags: list[str] = Field(default_factory=list, max_length=30)


class ContentCreate(ContentBase, RequestModel):  # type: ignore[misc]  # both configs are pydantic ConfigDicts
    author: str | None = Field(
        default=None, max_length=120, description="Who wrote it; the caller when left out."
    )


class ContentUpdate(RequestModel):
    """Members left out stay as they are; null only clears `value_dimension` (the others
    have no empty state, and a null there would be stored and break every read)."""

    kind: ContentKind = omittable()
    value_dimension: ValueDimension | None = None
    title: str = omittable(min_length=1, max_length=200)
    body: str = omittable(max_length=20_000)
    media: list[Media] = omittable(max_length=20)
    tags: list[str] = omittable(max_length=30)


class ReviewDecision(StrEnum):
    approve = "approve"
    reject = "reject"


class Review(RequestModel):
    decision: ReviewDecision
    comment: str | None = Field(default=None, max_length=2000)


class ContentItem(ContentTable, table=True):
    __tablename__ = "content_item"

    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    community_id: str = Field(index=True)
    kind: str
    value_dimension: str | None = None
    title: str
    body: str
    media: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False)
    )
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    author: str
    author_member_id: str | None = None
    submission_id: str | None = None
    status: str = ContentStatus.draft
    revision: int = 1
    reviewer: str | None = None
    review_comment: str | None = None
    reviewed_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class ContentRevision(ContentTable, table=True):
    """An earlier state of an item, kept when an edit replaced it."""

    __tablename__ = "content_revision"
    __table_args__ = (UniqueConstraint("item_id", "revision"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: str = Field(index=True)
    workspace_id: str
    revision: int
    status: str
    kind: str
    value_dimension: str | None = None
    title: str
    body: str
    media: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False)
    )
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    reviewer: str | None = None
    reviewed_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    replaced_at: datetime = Field(default_factory=now, sa_column=timestamp_column())
    replaced_by: str


class ContentPublic(ContentBase):
    media: list[MediaPublic]  # type: ignore[assignment]  # as stored, not as sent
    id: str
    community_id: str
    author: str
    author_member_id: str | None
    submission_id: str | None
    status: ContentStatus
    revision: int
    reviewer: str | None
    review_comment: str | None
    reviewed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RevisionPublic(SQLModel):
    revision: int
    status: ContentStatus
    kind: ContentKind
    value_dimension: ValueDimension | None
    title: str
    body: str
    media: list[MediaPublic]
    tags: list[str]
    reviewer: str | None
    reviewed_at: datetime | None
    replaced_at: datetime
    replaced_by: str
