"""API schemas of the lifecycle funnel (社群链条, DOMAIN.md rule 3)."""

from datetime import date

from sqlmodel import Field, SQLModel

# The lifecycle, in order, as the members service moves members along it.
STAGES = (
    "aware",
    "joined",
    "communicating",
    "favourable",
    "active",
    "paying",
    "feedback",
    "referring",
)


class StagePublic(SQLModel):
    stage: str
    members_now: int = Field(description="Members in the community at this stage now.")
    entered: int = Field(description="Members who entered this stage in the period.")
    advanced: int = Field(
        description="Of those, how many have since moved to a later stage (up to now)."
    )
    conversion: float | None = Field(
        description="advanced / entered: conversion to the next stages; null if none entered."
    )
    median_days_in_stage: float | None = Field(
        description="Median days members who left this stage in the period had spent in it."
    )


class FunnelPublic(SQLModel):
    community_id: str
    first: date
    last: date
    stages: list[StagePublic]
