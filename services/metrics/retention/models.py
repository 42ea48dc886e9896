"""API schemas of retention: cohorts by join week and period-over-period retention."""

from datetime import date

from sqlmodel import Field, SQLModel


class CohortPublic(SQLModel):
    week: date = Field(description="Monday of the local week the cohort's members joined in.")
    size: int = Field(description="Members who joined that week (their latest join).")
    active: list[int | None] = Field(
        description="Members of the cohort who spoke in weeks 1..12 after the join week; null "
        "for a week not over yet."
    )
    retention: list[float | None] = Field(description="active[k] / size, week by week.")


class CohortsPublic(SQLModel):
    community_id: str
    timezone: str
    cohorts: list[CohortPublic]


class PeriodRetentionPublic(SQLModel):
    start: date = Field(description="First local day of the period.")
    active: int = Field(description="Distinct members who spoke in the period.")
    retained: int = Field(description="Of them, how many also spoke in the period before.")
    retention: float | None = Field(
        description="|active now ∩ active before| / |active before|; null if none before."
    )


class RetentionPublic(SQLModel):
    community_id: str
    interval: str
    periods: list[PeriodRetentionPublic]
