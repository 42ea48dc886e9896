"""Health scores: the stored latest score of each group and community, and its API shape."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from services.metrics.tables import MetricsTable


class HealthScore(MetricsTable, table=True):
    """The latest score of a group (or of a community, `group_id` ""), kept by a periodic
    job so groups can be ranked by it; `/health` computes a fresh one."""

    __tablename__ = "health_score"

    community_id: str = Field(primary_key=True)
    group_id: str = Field(primary_key=True)
    workspace_id: str
    score: int
    band: str
    components: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    day: date
    computed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ComponentPublic(SQLModel):
    name: str
    weight: int = Field(description="Its share of the score when every component has data.")
    value: float | None = Field(description="The measured value (its unit: see docs).")
    score: float | None = Field(description="0–1: how good the value is; null without data.")
    contribution: float = Field(description="Points of the 0–100 score this component gave.")
    counts: dict[str, float | int | None] = Field(description="The counts the value comes from.")
    reason: str = Field(description="What an operator reads.")


class HealthPublic(SQLModel):
    community_id: str
    group_id: str | None
    day: date = Field(description="The local day the score is for (yesterday and before).")
    score: int = Field(description="0–100: Σ weight × component score / Σ weights with data.")
    band: str = Field(description="healthy (≥ 70), watch (40–69) or at_risk (< 40).")
    components: list[ComponentPublic]


class GroupHealthPublic(SQLModel):
    group_id: str
    name: str
    score: int
    band: str
    day: date
    reasons: list[str] = Field(description="The reasons of the two weakest components.")


class GroupRankingPublic(SQLModel):
    data: list[GroupHealthPublic]
    next_cursor: str | None
