"""Prune runs: judging a community's members against its inactivity policy, and removing the
candidates. Participation is a local day with at least one message (`member_activity_day`).
Nobody is removed without a run record: every run, dry or real, by hand or on schedule, keeps
its period, the policy it applied and each candidate with their count and outcome. Which
period a run judges is explained in policy.py.
"""

import logging
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.common import clock
from services.common.contracts.onboarding import PruneRunCompleted
from services.common.http.problems import not_found
from services.common.ids import new_id
from services.members import publishing
from services.members.activity.models import ActivityDay
from services.members.community import models, service, states
from services.members.community.models import Community, Member
from services.members.community.settings import InactivitySettings
from services.members.pruning.models import Outcome, PruneCandidate, PruneRun
from services.members.pruning.policy import (
    Period,
    is_run_day,
    missed,
    participation_floor,
    period_before,
)
from services.members.vocabulary import PRESENT

log = logging.getLogger(__name__)


def local_today(community: Community, at: datetime) -> date:
    """Today in the community's timezone."""
    return clock.local_day(at, community.timezone)


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
    publishing.emit(
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
        move=models.Move.remove,
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


def runs_query(*, community: Community) -> Any:
    """The community's prune runs."""
    return select(PruneRun).where(PruneRun.community_id == community.id)


def get_run(*, session: Session, community: Community, run_id: str) -> PruneRun:
    """The community's prune run, or the 404 problem."""
    run = session.exec(
        select(PruneRun).where(PruneRun.id == run_id, PruneRun.community_id == community.id)
    ).one_or_none()
    if run is None:
        raise not_found("prune run", run_id)
    return run


def candidates_query(*, run: PruneRun) -> Any:
    """A run's candidates with their display names; rows carry the member id apart, as the
    key a page is cut by."""
    return (
        select(PruneCandidate, Member.display_name, col(PruneCandidate.member_id))
        .join(Member, col(Member.id) == PruneCandidate.member_id)
        .where(PruneCandidate.run_id == run.id)
    )


def silent_query(*, community: Community, since: datetime) -> Any:
    """Present members who have not spoken since `since`."""
    return select(Member).where(
        Member.workspace_id == community.workspace_id,
        Member.community_id == community.id,
        col(Member.status).in_(PRESENT),
        col(Member.last_active_at).is_(None) | (col(Member.last_active_at) < since),
    )
