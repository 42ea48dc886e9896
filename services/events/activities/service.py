"""Creating, changing and reading activities and their sessions. Never commits."""

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from services.common.clock import local_day
from services.common.ids import new_id
from services.events.activities.models import (
    Activity,
    ActivityCreate,
    ActivityKind,
    ActivityPublic,
    ActivitySession,
    ActivityStatus,
    ActivityUpdate,
    Schedule,
    SessionPublic,
    SessionStatus,
)
from services.events.activities.schedule import in_zone, occurrences
from services.events.problems import ActivityNotEditable, InvalidSchedule, field_problem, not_found
from services.events.replica.models import Community
from services.events.replica.service import member_in

# After these, an activity's plan is history: it is reported on, not edited.
FROZEN = frozenset({ActivityStatus.finished, ActivityStatus.reported, ActivityStatus.cancelled})


def _check_hosts(session: Session, community: Community, hosts: list[Any]) -> None:
    for i, host in enumerate(hosts):
        if member_in(session, community=community, member_id=host.member_id) is None:
            raise field_problem(f"hosts.{i}.member_id", f"{host.member_id} is not a member here")


def _window(community: Community, opens: datetime | None, closes: datetime | None) -> None:
    if (
        opens
        and closes
        and in_zone(closes, community.timezone) <= in_zone(opens, community.timezone)
    ):
        raise InvalidSchedule(reason="registration_closes_at must be after registration_opens_at")


def create_activity(session: Session, *, community: Community, body: ActivityCreate) -> Activity:
    """A draft activity with its sessions."""
    tz = community.timezone
    starts_at, ends_at = in_zone(body.starts_at, tz), in_zone(body.ends_at, tz)
    slots = occurrences(starts_at=starts_at, ends_at=ends_at, timezone=tz, schedule=body.schedule)
    _check_hosts(session, community, body.hosts)
    _window(community, body.registration_opens_at, body.registration_closes_at)
    if body.challenge is not None and local_day(starts_at, tz) > body.challenge.starts_on:
        raise InvalidSchedule(reason="the challenge starts before the activity does")
    activity = Activity(
        id=new_id("act"),
        workspace_id=community.workspace_id,
        community_id=community.id,
        kind=body.kind,
        title=body.title,
        description=body.description,
        value_dimension=body.value_dimension,
        goal=body.goal,
        online_url=body.online_url,
        place=body.place,
        capacity=body.capacity,
        starts_at=starts_at,
        ends_at=slots[-1][1],
        schedule=body.schedule.model_dump(mode="json") if body.schedule else None,
        registration_opens_at=_maybe(body.registration_opens_at, tz),
        registration_closes_at=_maybe(body.registration_closes_at, tz),
        offer_hours=body.offer_hours,
        walk_ins=body.walk_ins,
        kpi_targets=body.kpi_targets,
        budget=[b.model_dump(mode="json") for b in body.budget],
        hosts=[h.model_dump(mode="json") for h in body.hosts],
        eligibility=body.eligibility.model_dump(mode="json"),
        temporary_group=body.temporary_group.model_dump(mode="json")
        if body.temporary_group
        else None,
        challenge=body.challenge.model_dump(mode="json") if body.challenge else None,
    )
    session.add(activity)
    for position, (start, end) in enumerate(slots, start=1):
        session.add(
            ActivitySession(
                id=new_id("ses"),
                workspace_id=activity.workspace_id,
                community_id=activity.community_id,
                activity_id=activity.id,
                position=position,
                starts_at=start,
                ends_at=end,
                capacity=activity.capacity,
            )
        )
    session.flush()
    return activity


def _maybe(value: datetime | None, timezone: str) -> datetime | None:
    return None if value is None else in_zone(value, timezone)


def update_activity(
    session: Session, *, community: Community, activity: Activity, body: ActivityUpdate
) -> Activity:
    """Change what may still change; a finished, reported or cancelled activity is history."""
    if activity.status in FROZEN:
        raise ActivityNotEditable(activity_id=activity.id, activity_status=activity.status)
    # Capacity changes with the sessions' places, under their locks (see lifecycle.replan).
    changes = body.model_dump(exclude_unset=True, exclude={"capacity"})
    if "hosts" in changes and body.hosts is not None:
        _check_hosts(session, community, body.hosts)
    for name in ("registration_opens_at", "registration_closes_at"):
        if name in changes:
            changes[name] = _maybe(changes[name], community.timezone)
    _window(
        community,
        changes.get("registration_opens_at", activity.registration_opens_at),
        changes.get("registration_closes_at", activity.registration_closes_at),
    )
    for name, value in changes.items():
        if name in ("budget", "hosts") and value is not None:
            value = [dict(v) for v in value]
        elif name == "eligibility" and value is not None:
            value = dict(value)
        setattr(activity, name, value)
    activity.updated_at = datetime.now(activity.created_at.tzinfo)
    session.add(activity)
    session.flush()
    return activity


def activity_of(session: Session, *, community: Community, activity_id: str) -> Activity:
    activity = session.get(Activity, activity_id)
    if activity is None or activity.community_id != community.id:
        raise not_found("activity", activity_id)
    return activity


def locked_activity(session: Session, *, community: Community, activity_id: str) -> Activity:
    """The activity, its row locked until the transaction ends (lifecycle changes)."""
    activity = session.exec(
        select(Activity).where(Activity.id == activity_id).with_for_update()
    ).first()
    if activity is None or activity.community_id != community.id:
        raise not_found("activity", activity_id)
    session.refresh(activity)
    return activity


def activities_query(
    *, community: Community, status: ActivityStatus | None, kind: ActivityKind | None
) -> Any:
    query = select(Activity).where(
        Activity.workspace_id == community.workspace_id, Activity.community_id == community.id
    )
    if status is not None:
        query = query.where(Activity.status == status)
    if kind is not None:
        query = query.where(Activity.kind == kind)
    return query


def sessions_of(session: Session, *, activity: Activity) -> list[ActivitySession]:
    return list(
        session.exec(
            select(ActivitySession)
            .where(ActivitySession.activity_id == activity.id)
            .order_by(col(ActivitySession.position))
        )
    )


def session_of(session: Session, *, activity: Activity, session_id: str) -> ActivitySession:
    row = session.get(ActivitySession, session_id)
    if row is None or row.activity_id != activity.id:
        raise not_found("session", session_id)
    return row


def public(activity: Activity, community: Community) -> ActivityPublic:
    # Attribute access (not model_dump) reloads a row expired by a commit.
    fields = {c.name: getattr(activity, c.name) for c in Activity.__table__.columns}  # type: ignore[attr-defined]
    return ActivityPublic.model_validate(
        fields
        | {
            "timezone": community.timezone,
            "schedule": Schedule.model_validate(activity.schedule) if activity.schedule else None,
        }
    )


def session_public(row: ActivitySession, timezone: str) -> SessionPublic:
    return SessionPublic(
        id=row.id,
        activity_id=row.activity_id,
        position=row.position,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        local_date=local_day(row.starts_at, timezone),
        status=SessionStatus(row.status),
        capacity=row.capacity,
        taken=row.taken,
    )
