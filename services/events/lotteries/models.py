"""Lottery draws (抽奖): prizes, who may win, and the record that makes a draw reproducible."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, model_validator
from sqlalchemy import Column, Date
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from services.common.http.schemas import RequestModel
from services.events.tables import EventsTable, timestamp_column


class DrawRequirement(StrEnum):
    members = "members"  # any member of the community who meets the other conditions
    registered = "registered"  # a confirmed place in one of the activity's sessions
    checked_in = "checked_in"  # checked in at one of the activity's sessions


class Prize(RequestModel):
    name: str = Field(min_length=1, max_length=80)
    quantity: int = Field(ge=1, le=10_000)
    weight: float = Field(default=1, gt=0, le=1_000_000)


class DrawIn(RequestModel):
    prizes: list[Prize] = Field(min_length=1, max_length=50)
    requires: DrawRequirement = DrawRequirement.checked_in
    tags_any: list[str] = Field(default_factory=list, max_length=20)
    min_level: int = Field(default=0, ge=0)
    allow_duplicate_winners: bool = False
    per_member_cap: int = Field(
        default=1, ge=1, le=100, description="Prizes one member may win in this activity."
    )
    per_day_cap: int | None = Field(
        default=None, ge=1, le=100, description="Prizes one member may win per local day."
    )
    blank_weight: float = Field(
        default=0, ge=0, description="Weight of drawing nothing (谢谢参与); 0: every draw wins."
    )
    seed: str | None = Field(
        default=None, min_length=8, max_length=128, description="Default: 128 random bits."
    )

    @model_validator(mode="after")
    def _distinct_prizes(self) -> "DrawIn":
        if len({p.name for p in self.prizes}) != len(self.prizes):
            raise ValueError("prize names must be distinct")
        return self


class Entrant(BaseModel):
    member_id: str
    allowance: int


class Winner(BaseModel):
    member_id: str
    prize: str


class Draw(EventsTable, table=True):
    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    activity_id: str = Field(index=True)
    algorithm: str
    seed: str
    prizes: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    rules: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    eligible: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    winners: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    local_day: date = Field(sa_column=Column(Date, nullable=False))
    drawn_at: datetime = Field(sa_column=timestamp_column())


class DrawPublic(BaseModel):
    id: str
    activity_id: str
    algorithm: str
    seed: str
    prizes: list[Prize]
    rules: dict[str, Any]
    eligible: list[Entrant]
    winners: list[Winner]
    local_day: date
    drawn_at: datetime


class Verification(BaseModel):
    draw_id: str
    algorithm: str
    matches: bool
    recorded: list[Winner]
    recomputed: list[Winner]
