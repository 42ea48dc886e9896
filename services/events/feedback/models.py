"""Feedback on an activity: a rating 1–5 and/or an NPS score 0–10, with a comment."""

from datetime import datetime

from pydantic import BaseModel, model_validator
from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from services.common.http.schemas import RequestModel
from services.events.tables import EventsTable, timestamp_column


class Feedback(EventsTable, table=True):
    __table_args__ = (UniqueConstraint("activity_id", "member_id"),)

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    activity_id: str = Field(index=True)
    member_id: str
    rating: int | None = None
    nps: int | None = None
    comment: str | None = None
    given_at: datetime = Field(sa_column=timestamp_column())


class FeedbackIn(RequestModel):
    member_id: str = Field(min_length=1, max_length=64)
    rating: int | None = Field(default=None, ge=1, le=5)
    nps: int | None = Field(default=None, ge=0, le=10, description="How likely to recommend.")
    comment: str | None = Field(default=None, max_length=5000)

    @model_validator(mode="after")
    def _something(self) -> "FeedbackIn":
        if self.rating is None and self.nps is None:
            raise ValueError("give a rating, an nps score, or both")
        return self


class FeedbackPublic(BaseModel):
    id: str
    activity_id: str
    member_id: str
    rating: int | None
    nps: int | None
    comment: str | None
    given_at: datetime
