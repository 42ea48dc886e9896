"""Weekly reports: stored as published, JSON and Markdown."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, DateTime, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from services.metrics.tables import MetricsTable


class WeeklyReport(MetricsTable, table=True):
    __tablename__ = "weekly_report"
    __table_args__ = (UniqueConstraint("community_id", "week_start"),)

    report_id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    week_start: date
    body: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    markdown: str
    published_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ReportSummary(SQLModel):
    report_id: str
    week_start: date
    published_at: datetime
    path: str = Field(description="The JSON report; add `.md` for Markdown.")


class ReportPage(SQLModel):
    data: list[ReportSummary]
    next_cursor: str | None
