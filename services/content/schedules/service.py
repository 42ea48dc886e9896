"""Schedules: checked when written (a bad RRULE, an unknown timezone, an UNTIL before
DTSTART, unapproved content are refused naming the field), paused and resumed, expanded
into occurrences. `next_due_at` is what the dispatcher reads."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select
from sqlmodel import Session, select

from services.common.ids import new_id
from services.content import problems
from services.content.library.models import ContentItem, ContentStatus
from services.content.replica import service as replica
from services.content.replica.models import Community
from services.content.schedules import recurrence
from services.content.schedules.models import (
    GroupsTarget,
    OccurrencePublic,
    Queue,
    QuietHours,
    Schedule,
    ScheduleCreate,
    SchedulePublic,
    ScheduleState,
    ScheduleUpdate,
)
from services.content.tables import now

# The widest window one occurrences request may ask for.
MAX_WINDOW = timedelta(days=366)
MAX_OCCURRENCES = 1000


def recurrence_of(schedule: Schedule) -> recurrence.Recurrence:
    return recurrence.Recurrence(
        timezone=schedule.timezone,
        starts_at=schedule.starts_at,
        rule=schedule.rrule,
        exdates=frozenset(datetime.fromisoformat(d) for d in schedule.exdates),
        quiet_start=schedule.quiet_start,
        quiet_end=schedule.quiet_end,
    )


def _checked_recurrence(
    *,
    timezone: str,
    starts_at: datetime,
    rrule: str | None,
    exdates: list[datetime],
    quiet: QuietHours | None,
) -> recurrence.Recurrence:
    try:
        return recurrence.parse(
            timezone=timezone,
            starts_at=starts_at,
            rule=rrule,
            exdates=exdates,
            quiet_start=quiet.start if quiet else None,
            quiet_end=quiet.end if quiet else None,
        )
    except recurrence.InvalidRecurrence as exc:
        if exc.field == "timezone":
            raise problems.ScheduleTimezoneUnknown(reason=exc.reason) from exc
        if exc.field == "quiet_hours":
            raise problems.QuietHoursIncomplete(reason=exc.reason) from exc
        raise problems.InvalidRecurrence(reason=exc.reason) from exc


def _check_content(session: Session, *, community: Community, item_id: str) -> None:
    item = session.get(ContentItem, item_id)
    if item is None or (item.workspace_id, item.community_id) != (
        community.workspace_id,
        community.id,
    ):
        raise problems.ContentNotApproved(content_item_id=item_id, state="not in this community")
    if item.status != ContentStatus.approved:
        raise problems.ContentNotApproved(content_item_id=item_id, state=item.status)


def _check_target(session: Session, *, community: Community, target: Any) -> None:
    if isinstance(target, GroupsTarget):
        known = replica.groups_by_id(session, community=community, group_ids=target.group_ids)
        usable = {g.id for g in known if g.state != "dissolved"}
        missing = [g for g in target.group_ids if g not in usable]
        if missing:
            raise problems.ScheduleTargetInvalid(group_ids=missing)


def create_schedule(
    session: Session, *, community: Community, schedule_in: ScheduleCreate, actor: str
) -> Schedule:
    """A new active schedule, its first occurrence due at `next_due_at`."""
    timezone = schedule_in.timezone or community.timezone
    rec = _checked_recurrence(
        timezone=timezone,
        starts_at=schedule_in.starts_at,
        rrule=schedule_in.rrule,
        exdates=schedule_in.exdates,
        quiet=schedule_in.quiet_hours,
    )
    if schedule_in.content_item_id is not None:
        _check_content(session, community=community, item_id=schedule_in.content_item_id)
    _check_target(session, community=community, target=schedule_in.target)
    schedule = Schedule(
        id=new_id("sch"),
        workspace_id=community.workspace_id,
        community_id=community.id,
        name=schedule_in.name,
        content_item_id=schedule_in.content_item_id,
        queue_kind=schedule_in.queue.kind if schedule_in.queue else None,
        target=schedule_in.target.model_dump(mode="json"),
        timezone=timezone,
        starts_at=rec.starts_at,
        rrule=rec.rule,
        exdates=sorted(d.isoformat() for d in rec.exdates),
        quiet_start=rec.quiet_start,
        quiet_end=rec.quiet_end,
        created_by=actor,
    )
    _plan_next(schedule, rec, after=now())
    session.add(schedule)
    session.flush()
    return schedule


def _plan_next(schedule: Schedule, rec: recurrence.Recurrence, *, after: datetime) -> None:
    """Point `next_due_at` at the first occurrence from `after` on (inclusive)."""
    upcoming = rec.first_after(after, inclusive=True)
    schedule.next_due_at = upcoming.utc if upcoming else None
    if upcoming is None:
        schedule.state = ScheduleState.ended
    elif schedule.state == ScheduleState.ended:
        schedule.state = ScheduleState.active


def get_schedule(
    session: Session, *, workspace_id: str, schedule_id: str, for_update: bool = False
) -> Schedule:
    query = select(Schedule).where(
        Schedule.id == schedule_id, Schedule.workspace_id == workspace_id
    )
    if for_update:
        query = query.with_for_update()
    schedule = session.exec(query).one_or_none()
    if schedule is None:
        raise problems.schedule_not_found(schedule_id)
    return schedule


def list_schedules(*, community: Community, state: ScheduleState | None) -> Select[Any]:
    query = select(Schedule).where(
        Schedule.workspace_id == community.workspace_id, Schedule.community_id == community.id
    )
    if state is not None:
        query = query.where(Schedule.state == state)
    return query


def update_schedule(
    session: Session, *, schedule: Schedule, community: Community, update: ScheduleUpdate
) -> None:
    """Change a schedule; its next occurrence is planned again from now, so an edit never
    makes past occurrences due."""
    changes = update.model_dump(exclude_unset=True)
    if schedule.state == ScheduleState.ended and not changes.keys() & {"starts_at", "rrule"}:
        raise problems.ContentStateConflict(what="schedule", state=schedule.state, action="changed")
    timezone = update.timezone or schedule.timezone
    quiet = (
        update.quiet_hours
        if "quiet_hours" in changes
        else (
            QuietHours(start=schedule.quiet_start, end=schedule.quiet_end)
            if schedule.quiet_start and schedule.quiet_end
            else None
        )
    )
    rec = _checked_recurrence(
        timezone=timezone,
        starts_at=update.starts_at or schedule.starts_at,
        rrule=update.rrule if "rrule" in changes else schedule.rrule,
        exdates=(
            update.exdates
            if update.exdates is not None
            else [datetime.fromisoformat(d) for d in schedule.exdates]
        ),
        quiet=quiet,
    )
    if update.content_item_id is not None:
        _check_content(session, community=community, item_id=update.content_item_id)
        schedule.content_item_id, schedule.queue_kind = update.content_item_id, None
    elif update.queue is not None:
        schedule.content_item_id, schedule.queue_kind = None, update.queue.kind
    if update.target is not None:
        _check_target(session, community=community, target=update.target)
        schedule.target = update.target.model_dump(mode="json")
    if update.name is not None:
        schedule.name = update.name
    schedule.timezone = timezone
    schedule.starts_at, schedule.rrule = rec.starts_at, rec.rule
    schedule.exdates = sorted(d.isoformat() for d in rec.exdates)
    schedule.quiet_start, schedule.quiet_end = rec.quiet_start, rec.quiet_end
    if schedule.state != ScheduleState.paused:
        _plan_next(schedule, rec, after=now())
    schedule.updated_at = now()
    session.add(schedule)


def pause_schedule(session: Session, *, schedule: Schedule) -> None:
    """Nothing fires while paused; occurrences in the pause are not caught up later."""
    if schedule.state != ScheduleState.active:
        raise problems.ContentStateConflict(what="schedule", state=schedule.state, action="paused")
    schedule.state = ScheduleState.paused
    schedule.updated_at = now()
    session.add(schedule)


def resume_schedule(session: Session, *, schedule: Schedule) -> None:
    """Fire again from the next occurrence after now."""
    if schedule.state != ScheduleState.paused:
        raise problems.ContentStateConflict(what="schedule", state=schedule.state, action="resumed")
    schedule.state = ScheduleState.active
    _plan_next(schedule, recurrence_of(schedule), after=now())
    schedule.updated_at = now()
    session.add(schedule)


def occurrences(schedule: Schedule, *, start: datetime, end: datetime) -> list[OccurrencePublic]:
    """The occurrences in [start, end) exactly as they fire, local and UTC."""
    if end <= start:
        raise problems.OccurrenceWindowInvalid(reason="`to` must be after `from`.")
    if end - start > MAX_WINDOW:
        raise problems.OccurrenceWindowInvalid(reason="Ask for at most 366 days at a time.")
    found = recurrence_of(schedule).between(start, end, limit=MAX_OCCURRENCES)
    return [OccurrencePublic(local=o.local, utc=o.utc) for o in found]


def public(schedule: Schedule) -> SchedulePublic:
    upcoming = None
    if schedule.next_due_at is not None and schedule.state == ScheduleState.active:
        zone_local = recurrence_of(schedule).first_after(schedule.next_due_at, inclusive=True)
        if zone_local is not None:
            upcoming = OccurrencePublic(local=zone_local.local, utc=zone_local.utc)
    return SchedulePublic(
        id=schedule.id,
        community_id=schedule.community_id,
        name=schedule.name,
        content_item_id=schedule.content_item_id,
        queue=Queue(kind=schedule.queue_kind) if schedule.queue_kind else None,  # type: ignore[arg-type]
        target=schedule.target,  # type: ignore[arg-type]
        timezone=schedule.timezone,
        starts_at=schedule.starts_at,
        rrule=schedule.rrule,
        exdates=[datetime.fromisoformat(d) for d in schedule.exdates],
        quiet_hours=(
            QuietHours(start=schedule.quiet_start, end=schedule.quiet_end)
            if schedule.quiet_start is not None and schedule.quiet_end is not None
            else None
        ),
        state=schedule.state,  # type: ignore[arg-type]
        next_occurrence=upcoming,
        created_by=schedule.created_by,
        created_at=schedule.created_at,
        updated_at=schedule.updated_at,
    )
