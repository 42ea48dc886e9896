"""Incentives (DOMAIN.md rule 18): points for what members do, levels, badges, leaderboards.

Points come from other services' events (check-ins, attendance, accepted submissions), from
chat activity (activity.py calls `award`), from referrals, and from operators' adjustments.
The ledger itself lives in points_ledger.py; badges and leaderboards are mounted here.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from services.common.cloudevents import CloudEvent
from services.common.consumer import Handler
from services.common.contracts import (
    AttendanceRecorded,
    CheckInRecorded,
    SubmissionAccepted,
)
from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import ActorDep, WorkspaceDep
from services.common.http.pagination import (
    PageParams,
    decode_cursor,
    encode_cursor,
    page_params,
)
from services.common.http.problems import Problem, field_problem
from services.common.ids import new_id
from services.members import badges, leaderboard, service
from services.members.community_settings import PointsRules
from services.members.merge import merge_step
from services.members.models import Member, MemberStatus
from services.members.points_ledger import PointsEntry, award, level_for, relevel

__all__ = ["HANDLERS", "JOBS", "PointsEntry", "award", "level_for", "router"]

router = APIRouter(prefix="/v1", tags=["points"])
MAX_MERGE_HOPS = 10


# ---- points from other services' events ---------------------------------------------------


def member_for_event(
    session: Session, event: CloudEvent, member_id: str, community_id: str
) -> Member | None:
    """The member an event names, in the event's own workspace and community; a merged record
    answers with its survivor. None when there is no such member here."""
    member = session.exec(
        select(Member).where(
            Member.id == member_id,
            Member.community_id == community_id,
            Member.workspace_id == event.workspaceid,
        )
    ).one_or_none()
    for _ in range(MAX_MERGE_HOPS):
        if member is None or member.status != MemberStatus.merged or not member.merged_into:
            break
        member = session.get(Member, member.merged_into)
    return member


def _pay(
    session: Session,
    event: CloudEvent,
    *,
    member_id: str,
    community_id: str,
    reason: str,
    amount_of: Callable[[PointsRules], int],
    source_id: str,
) -> None:
    member = member_for_event(session, event, member_id, community_id)
    if member is None:
        return
    rules = service.get_community(
        session=session, workspace_id=member.workspace_id, community_id=member.community_id
    ).rules()
    award(
        session=session,
        member=member,
        amount=amount_of(rules.points),
        reason=reason,
        source_id=source_id,
    )


# Sources are the facts, not the event ids: a producer re-publishing the same check-in under a
# new event id still pays once.
def on_check_in(session: Session, event: CloudEvent) -> None:
    data = CheckInRecorded.model_validate(event.data)
    _pay(
        session,
        event,
        member_id=data.member_id,
        community_id=data.community_id,
        reason="check_in",
        amount_of=lambda rules: rules.check_in,
        source_id=f"{data.challenge_id}/{data.day}/{data.member_id}",
    )


def on_attendance(session: Session, event: CloudEvent) -> None:
    data = AttendanceRecorded.model_validate(event.data)
    _pay(
        session,
        event,
        member_id=data.member_id,
        community_id=data.community_id,
        reason="attendance",
        amount_of=lambda rules: rules.attendance,
        source_id=f"{data.activity_id}/{data.member_id}",
    )


def on_submission_accepted(session: Session, event: CloudEvent) -> None:
    data = SubmissionAccepted.model_validate(event.data)
    _pay(
        session,
        event,
        member_id=data.member_id,
        community_id=data.community_id,
        reason="accepted_submission",
        amount_of=lambda rules: rules.accepted_submission,
        source_id=data.submission_id,
    )


HANDLERS: dict[str, Handler] = {
    CheckInRecorded.type: on_check_in,
    AttendanceRecorded.type: on_attendance,
    SubmissionAccepted.type: on_submission_accepted,
}


# ---- operators' adjustments and the ledger -------------------------------------------------


class AdjustmentIn(BaseModel):
    amount: int = Field(description="Points to add (positive) or take away (negative); not 0.")
    reason: str = Field(min_length=1, max_length=500, description="Why, kept on the entry.")


class EntryPublic(BaseModel):
    id: str
    amount: int
    reason: str
    source_id: str
    note: str | None
    actor: str
    created_at: datetime


class AdjustmentPublic(BaseModel):
    entry: EntryPublic
    total: int
    level: int


class LedgerPage(BaseModel):
    member_id: str
    total: int
    level: int
    next_level_at: int | None = Field(description="Points the next level needs; null at the top.")
    data: list[EntryPublic]
    next_cursor: str | None


def adjust(
    *, session: Session, member: Member, amount: int, note: str, actor: str, source_id: str
) -> PointsEntry:
    """An operator's credit or debit; a debit may not take the total below zero."""
    limit = (
        service.get_community(
            session=session, workspace_id=member.workspace_id, community_id=member.community_id
        )
        .rules()
        .points.manual_adjustment_max
    )
    if amount == 0 or abs(amount) > limit:
        raise field_problem(
            "amount",
            f"amount must be non-zero and at most {limit} either way",
            "amount-out-of-range",
        )
    if member.status == MemberStatus.merged:
        raise Problem(
            409,
            "member-merged",
            "Member merged",
            f"Adjust {member.merged_into} instead.",
            merged_into=member.merged_into,
        )
    if member.points + amount < 0:
        raise Problem(
            422,
            "insufficient-points",
            "Not enough points",
            f"The member has {member.points} points; a debit of {-amount} would go below zero.",
            balance=member.points,
            errors=[
                {
                    "field": "amount",
                    "in": "body",
                    "message": "below zero",
                    "code": "insufficient-points",
                }
            ],
        )
    entry = award(
        session=session,
        member=member,
        amount=amount,
        reason="manual",
        source_id=source_id,
        note=note,
        actor=actor,
    )
    if entry is None:
        raise Problem(409, "already-applied", "Already applied", "This adjustment was made before.")
    return entry


@router.post(
    "/communities/{community_id}/members/{member_id}/points",
    status_code=status.HTTP_201_CREATED,
    response_model=AdjustmentPublic,
    responses={422: {"description": "Out of range, or below zero (`insufficient-points`)."}},
)
def adjust_points(
    community_id: str,
    member_id: str,
    body: AdjustmentIn,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    actor: ActorDep,
    once: OnceDep,
) -> JSONResponse:
    """Add or take away points by hand, with a reason; send an Idempotency-Key to retry safely."""

    def create() -> tuple[int, AdjustmentPublic]:
        member = service.get_member(
            session=session,
            workspace_id=workspace_id,
            community_id=community_id,
            member_id=member_id,
            for_update=True,
        )
        entry = adjust(
            session=session,
            member=member,
            amount=body.amount,
            note=body.reason,
            actor=actor,
            source_id=f"key:{once.key}" if once.key else new_id("adj"),
        )
        public = EntryPublic.model_validate(entry, from_attributes=True)
        return 201, AdjustmentPublic(entry=public, total=member.points, level=member.level)

    return once.run(body, create)


@router.get("/communities/{community_id}/members/{member_id}/points", response_model=LedgerPage)
def ledger(
    community_id: str,
    member_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    paging: Annotated[PageParams, Depends(page_params)],
) -> LedgerPage:
    """A member's total, level and ledger, newest entry first."""
    member = service.get_member(
        session=session, workspace_id=workspace_id, community_id=community_id, member_id=member_id
    )
    query = select(PointsEntry).where(PointsEntry.member_id == member.id)
    if paging.cursor:
        query = query.where(col(PointsEntry.id) < decode_cursor(paging.cursor))
    rows = list(session.exec(query.order_by(col(PointsEntry.id).desc()).limit(paging.limit + 1)))
    cursor = encode_cursor(rows[paging.limit - 1].id) if len(rows) > paging.limit else None
    thresholds = (
        service.get_community(session=session, workspace_id=workspace_id, community_id=community_id)
        .rules()
        .levels.thresholds
    )
    higher = [t for t in thresholds if t > member.points]
    return LedgerPage(
        member_id=member.id,
        total=member.points,
        level=member.level,
        next_level_at=higher[0] if higher else None,
        data=[EntryPublic.model_validate(e, from_attributes=True) for e in rows[: paging.limit]],
        next_cursor=cursor,
    )


# ---- levels --------------------------------------------------------------------------------


class RecomputeResult(BaseModel):
    raised: int
    lowered: int


def recompute_levels(
    *, session: Session, community_id: str, thresholds: list[int]
) -> RecomputeResult:
    """Re-level every member after the thresholds changed; only rises are announced."""
    new_level = sa.func.greatest(
        1,
        sa.select(sa.func.count())
        .select_from(sa.func.unnest(sa.literal(thresholds, sa.ARRAY(sa.Integer))).alias("t"))
        .where(sa.column("t") <= Member.points)
        .scalar_subquery(),
    )
    changed = session.execute(
        sa.select(col(Member.id), col(Member.level), new_level.label("new_level"))
        .where(
            col(Member.community_id) == community_id,
            col(Member.status) != MemberStatus.merged,
            col(Member.level) != new_level,
        )
        .with_for_update(of=Member.__table__)  # type: ignore[attr-defined]
    ).all()
    raised = [row.id for row in changed if row.new_level > row.level]
    for member in session.exec(select(Member).where(col(Member.id).in_(raised))):
        relevel(session=session, member=member, thresholds=thresholds)
        badges.check_rules(session=session, member=member)
    lowered = {row.id: row.new_level for row in changed if row.new_level < row.level}
    for member_id, level in lowered.items():
        session.execute(sa.update(Member).where(col(Member.id) == member_id).values(level=level))
    return RecomputeResult(raised=len(raised), lowered=len(lowered))


@router.post(
    "/communities/{community_id}/levels/recompute", response_model=RecomputeResult, tags=["levels"]
)
def recompute(
    community_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> RecomputeResult:
    """Re-level every member by the community's current thresholds (after changing them)."""
    community = service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id, for_update=True
    )
    result = recompute_levels(
        session=session, community_id=community.id, thresholds=community.rules().levels.thresholds
    )
    session.commit()
    return result


@merge_step
def _move_ledger(session: Session, survivor: Member, merged: Member) -> None:
    """Entries move with their sources, so nothing already paid can pay again."""
    session.execute(
        sa.update(PointsEntry)
        .where(col(PointsEntry.member_id) == merged.id)
        .values(member_id=survivor.id)
    )
    survivor.points += merged.points
    merged.points, merged.level = 0, 1
    session.add_all([survivor, merged])
    relevel(session=session, member=survivor)
    badges.check_rules(session=session, member=survivor)


router.include_router(badges.router)
router.include_router(leaderboard.router)
JOBS = badges.JOBS
