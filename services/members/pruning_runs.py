"""Prune runs: judging a community's members against its inactivity policy, and removing the
candidates. Participation is a local day with at least one message (`member_activity_day`).
Nobody is removed without a run record: every run, dry or real, by hand or on schedule, keeps
its period, the policy it applied and each candidate with their count and outcome. Which
period a run judges is explained in pruning_policy.py.
"""

import logging
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, col, select

from services.common.contracts.onboarding import PruneRunCompleted
from services.common.ids import new_id
from services.members import service, states
from services.members.activity import ActivityDay
from services.members.community_settings import InactivitySettings
from services.members.models import Community, Member, MembersTable, now, timestamp_column
from services.members.pruning_policy import (
    Period,
    is_run_day,
    missed,
    participation_floor,
    period_before,
)
from services.members.rules import PRESENT

log = logging.getLogger(__name__)


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


def local_today(community: Community, at: datetime) -> date:
    return at.astimezone(ZoneInfo(community.timezone)).date()


def candidates(
    *,
    session: Session,
    community: Community,
    policy: InactivitySettings,
    period: Period,
    at: datetime,
) -> list[tuple[Member, int]]:
    """Members present, not exempt, with fewer counted participations than the floor."""
    counted: list[sa.ColumnElement[bool]] = [
        col(ActivityDay.member_id) == col(Member.id),
        col(ActivityDay.community_id) == community.id,
        col(ActivityDay.day).between(period.start, period.end),
        col(ActivityDay.messages) > 0,
    ]
    if policy.discussion_weekdays:  # isodow: Monday is 1
        weekdays = [d + 1 for d in policy.discussion_weekdays]
        counted.append(sa.extract("isodow", col(ActivityDay.day)).in_(weekdays))
    participations = sa.func.count(col(ActivityDay.day))
    joined = sa.func.coalesce(col(Member.joined_at), col(Member.created_at))
    query = (
        select(Member, participations)
        .select_from(Member)
        .outerjoin(ActivityDay, sa.and_(*counted))
        .where(
            Member.workspace_id == community.workspace_id,
            Member.community_id == community.id,
            col(Member.status).in_(PRESENT),
            col(Member.role).not_in(policy.exempt_roles),
            joined <= at - timedelta(days=policy.exempt_joined_within_days),
        )
        .group_by(col(Member.id))
        .having(participations < participation_floor(period, policy))
        .order_by(col(Member.id))
    )
    return [(member, count) for member, count in session.exec(query)]


def run_prune(
    *,
    session: Session,
    community: Community,
    dry_run: bool,
    actor: str,
    at: datetime,
    scheduled: bool = False,
) -> PruneRun:
    """Judge the period before today (local) and, unless dry, remove the candidates."""
    if not dry_run:  # one real run at a time per community
        community = service.get_community(
            session=session,
            workspace_id=community.workspace_id,
            community_id=community.id,
            for_update=True,
        )
    policy = community.rules().inactivity
    period = period_before(local_today(community, at), policy)
    run = PruneRun(
        id=new_id("prn"),
        workspace_id=community.workspace_id,
        community_id=community.id,
        dry_run=dry_run,
        scheduled=scheduled,
        period_start=period.start,
        period_end=period.end,
        policy=policy.model_dump(mode="json"),
        actor=actor,
        created_at=at,
    )
    session.add(run)
    session.flush()
    for member, count in candidates(
        session=session, community=community, policy=policy, period=period, at=at
    ):
        outcome = Outcome.would_remove if dry_run else _remove(session, run, member, count, period)
        session.add(
            PruneCandidate(
                id=new_id("prc"),
                run_id=run.id,
                workspace_id=run.workspace_id,
                member_id=member.id,
                participations=count,
                missed=missed(period, policy, count),
                outcome=outcome,
            )
        )
        run.candidate_count += 1
        run.removed_count += outcome == Outcome.removed
    run.completed_at = at
    session.add(run)
    session.flush()
    service.emit(
        session,
        PruneRunCompleted(
            run_id=run.id,
            community_id=community.id,
            dry_run=dry_run,
            scheduled=scheduled,
            period_start=period.start,
            period_end=period.end,
            candidate_count=run.candidate_count,
            removed_count=run.removed_count,
            completed_at=at,
        ),
        community_id=community.id,
        workspace_id=community.workspace_id,
    )
    return run


def _remove(session: Session, run: PruneRun, member: Member, count: int, period: Period) -> Outcome:
    locked = session.exec(select(Member).where(Member.id == member.id).with_for_update()).one()
    if locked.status not in PRESENT:
        return Outcome.skipped
    states.apply_move(
        session=session,
        member=locked,
        move=states.Move.remove,
        actor=f"prune_run:{run.id}",
        reason=f"inactive: took part on {count} day(s) from {period.start} to {period.end}",
    )
    return Outcome.removed


def scheduled_pruning(session: Session, at: datetime) -> int:
    """Run each enabled community's policy once per period, on its run day in its timezone.

    The unique (community, period) of scheduled runs makes a second pass, a retry or another
    replica a no-op. A run day the service is down for entirely is not caught up later: a
    removal weeks late would judge people on a period they no longer expect to be judged on.
    """
    enabled = sa.text("(community.settings -> 'inactivity' ->> 'enabled')::boolean")
    done = 0
    for community in session.exec(select(Community).where(enabled).order_by(col(Community.id))):
        policy = community.rules().inactivity
        today = local_today(community, at)
        if not is_run_day(today, policy):
            continue
        period = period_before(today, policy)
        if session.exec(
            select(PruneRun.id).where(
                PruneRun.community_id == community.id,
                col(PruneRun.scheduled).is_(True),
                PruneRun.period_start == period.start,
                PruneRun.period_end == period.end,
            )
        ).first():
            continue
        try:
            with session.begin_nested():
                run_prune(
                    session=session,
                    community=community,
                    dry_run=policy.scheduled_dry_run,
                    actor="schedule",
                    at=at,
                    scheduled=True,
                )
        except IntegrityError:  # another pass got there first
            continue
        except Exception:  # one community's failure must not hold up the others'
            log.exception("scheduled prune run failed", extra={"community_id": community.id})
            continue
        done += 1
    return done
