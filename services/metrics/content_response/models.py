"""Content response (rule 10): the publications metrics heard of, the replies messages drew,
and each group's messages by hour, the baseline a publication is measured against."""

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from services.metrics.tables import MetricsTable


def _at() -> Column:
    return Column(DateTime(timezone=True), nullable=False)


class Publication(MetricsTable, table=True):
    __tablename__ = "publication"

    publication_id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(index=True)
    group_id: str
    content_item_id: str
    content_kind: str | None = None
    value_dimension: str | None = None
    external_message_id: str | None = None
    published_at: datetime = Field(sa_column=_at())


class GroupHour(MetricsTable, table=True):
    """Messages in a group in one clock hour (UTC hours: every zone's hours start on them,
    but for the half-hour zones, where the hour is the UTC one)."""

    __tablename__ = "group_hour"

    group_id: str = Field(primary_key=True)
    hour: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    messages: int = 0
    member_messages: int = 0


class ReplyTarget(MetricsTable, table=True):
    """Replies a message drew, by the message's platform id (a publication's included)."""

    __tablename__ = "reply_target"

    group_id: str = Field(primary_key=True)
    message_external_id: str = Field(primary_key=True)
    replies: int = 0


class ReplyTargetSpeaker(MetricsTable, table=True):
    """Who replied to a message: distinct repliers."""

    __tablename__ = "reply_target_speaker"

    group_id: str = Field(primary_key=True)
    message_external_id: str = Field(primary_key=True)
    speaker: str = Field(primary_key=True)


class PublicationResponse(SQLModel):
    publication_id: str
    group_id: str
    content_item_id: str
    content_kind: str | None
    value_dimension: str | None
    published_at: datetime
    replies: int = Field(description="Messages replying to the publication's message.")
    repliers: int = Field(description="Distinct members who replied to it.")
    messages_2h: int = Field(
        description="Member messages in the group in the two clock hours from its hour."
    )
    baseline_2h: float | None = Field(
        description="The mean of the same two hours on the same weekday of the 4 weeks before."
    )
    lift: float | None = Field(description="messages_2h / baseline_2h.")


class ResponseGroup(SQLModel):
    key: str
    publications: int
    mean_replies: float
    mean_repliers: float
    mean_messages_2h: float
    mean_lift: float | None


class ContentResponsePublic(SQLModel):
    community_id: str
    publications: list[PublicationResponse]
    by_kind: list[ResponseGroup]
    by_dimension: list[ResponseGroup]
    dimension_mix: dict[str, float] = Field(
        description="Share of the range's publications per value dimension (rule 13)."
    )
