"""Inactivity pruning: runs and their candidates (tables) and the API shapes of both."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, StrictBool
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from services.common.clock import now
from services.common.http.pagination import (
    Page,
)
from services.common.http.schemas import RequestModel
from services.members.tables import MembersTable, timestamp_column


class Outcome(StrEnum):
    would_remove = "would_remove"  # a dry run
    removed = "removed"
    skipped = "skipped"  # no longer in the community when the run reached them


class PruneRun(MembersTable, table=True):
    __tablename__ = "prune_run"

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(foreign_key="community.id")
    dry_run: bool
    scheduled: bool
    status: str = "completed"
    period_start: date
    period_end: date
    policy: dict[str, Any] = Field(sa_column=sa.Column(JSONB, nullable=False))
    candidate_count: int = 0
    removed_count: int = 0
    actor: str
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())
    completed_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class PruneCandidate(MembersTable, table=True):
    __tablename__ = "prune_candidate"

    id: str = Field(primary_key=True)
    run_id: str = Field(foreign_key="prune_run.id")
    workspace_id: str
    member_id: str = Field(foreign_key="member.id")
    participations: int
    missed: int | None = None
    outcome: Outcome


class PruneRunIn(RequestModel):
    # Removing members is never a default: only an explicit `false` (a JSON boolean, not
    # "no" or 0) makes a real run.
    dry_run: StrictBool = Field(
        default=True, description="`false` removes the candidates; anything else only lists them."
    )


class CandidatePublic(BaseModel):
    member_id: str
    display_name: str
    participations: int
    missed: int | None
    outcome: Outcome


class PruneRunPublic(BaseModel):
    id: str
    community_id: str
    dry_run: bool
    scheduled: bool
    status: str
    period_start: date
    period_end: date
    policy: dict[str, Any]
    candidate_count: int
    removed_count: int
    actor: str
    created_at: datetime
    completed_at: datetime | None


class PruneRunDetail(PruneRunPublic):
    candidates: Page[CandidatePublic]
