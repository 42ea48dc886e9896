"""Assembling the calendar: occurrences still to come as the schedules will fire them,
occurrences already handled as they were, playbook steps due, and the sessions of the
community's activities as the events service last announced them, in one time line.
"""

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from services.common import clock
from services.content import problems
from services.content.calendar.models import Calendar, CalendarEntry
from services.content.library.models import ContentItem
from services.content.playbooks.models import Playbook, PlaybookRun, PlaybookStep, Step
from services.content.publishing.models import OccurrenceRecord
from services.content.replica.models import Community, PlannedActivity, PlannedSession
from services.content.schedules.models import Schedule, ScheduleState
from services.content.schedules.service import recurrence_of

MAX_WINDOW = timedelta(days=92)
MAX_ENTRIES = 5000


def calendar(session: Session, *, community: Community, start: datetime, end: datetime) -> Calendar:
    if end <= start:
        raise problems.OccurrenceWindowInvalid(reason="`to` must be after `from`.")
    if end - start > MAX_WINDOW:
        raise problems.OccurrenceWindowInvalid(reason="Ask for at most 92 days at a time.")
    zone = clock.zone(community.timezone)
    schedules = {
        s.id: s
        for s in session.exec(
            select(Schedule).where(
                Schedule.workspace_id == community.workspace_id,
                Schedule.community_id == community.id,
            )
        )
    }
    items = {
        i.id: i
        for i in session.exec(
            select(ContentItem).where(
                ContentItem.workspace_id == community.workspace_id,
                ContentItem.community_id == community.id,
            )
        )
    }
    entries: list[CalendarEntry] = []

    def occurrence_entry(
        schedule: Schedule, at: datetime, status: str, reason: str | None, item_id: str | None
    ) -> CalendarEntry:
        item = items.get(item_id or schedule.content_item_id or "")
        return CalendarEntry(
            kind="schedule_occurrence",
            local=at.astimezone(zone),
            utc=at,
            status=status,
            reason=reason,
            title=item.title if item else schedule.name,
            content_item_id=item.id if item else None,
            content_kind=item.kind if item else schedule.queue_kind,
            queue_kind=schedule.queue_kind,
            target=schedule.target,
            schedule_id=schedule.id,
        )

    # What already happened, as it happened.
    for record in session.exec(
        select(OccurrenceRecord).where(
            OccurrenceRecord.workspace_id == community.workspace_id,
            OccurrenceRecord.community_id == community.id,
            col(OccurrenceRecord.occurs_at) >= start,
            col(OccurrenceRecord.occurs_at) < end,
        )
    ):
        schedule = schedules.get(record.schedule_id)
        if schedule is not None:
            entries.append(
                occurrence_entry(
                    schedule, record.occurs_at, record.status, record.reason, record.content_item_id
                )
            )
    # What is still to come, exactly as the dispatcher will fire it.
    for schedule in schedules.values():
        if schedule.state != ScheduleState.active or schedule.next_due_at is None:
            continue
        upcoming_from = max(start, schedule.next_due_at)
        if upcoming_from >= end:
            continue
        for occurrence in recurrence_of(schedule).between(upcoming_from, end, limit=MAX_ENTRIES):
            entries.append(occurrence_entry(schedule, occurrence.utc, "planned", None, None))

    rows = session.exec(
        select(PlaybookStep, PlaybookRun, Playbook)
        .join(PlaybookRun, col(PlaybookRun.id) == col(PlaybookStep.run_id))
        .join(Playbook, col(Playbook.id) == col(PlaybookRun.playbook_id))
        .where(
            PlaybookRun.workspace_id == community.workspace_id,
            PlaybookRun.community_id == community.id,
            col(PlaybookStep.due_at) >= start,
            col(PlaybookStep.due_at) < end,
        )
        .limit(MAX_ENTRIES)
    )
    for step, run, playbook in rows:
        definition = Step.model_validate(playbook.steps[step.position])
        item = items.get(definition.content_item_id)
        entries.append(
            CalendarEntry(
                kind="playbook_step",
                local=step.due_at.astimezone(zone),
                utc=step.due_at,
                status=step.state,
                reason=step.reason,
                title=item.title if item else playbook.name,
                content_item_id=definition.content_item_id,
                content_kind=item.kind if item else None,
                target={"to": definition.to, "member_id": run.member_id, "group_id": run.group_id},
                playbook_id=playbook.id,
                run_id=run.id,
            )
        )
    entries += _activity_sessions(session, community=community, start=start, end=end)
    entries.sort(key=lambda e: (e.utc, e.kind, e.schedule_id or e.run_id or e.session_id or ""))
    return Calendar(
        community_id=community.id,
        timezone=community.timezone,
        entries=entries[:MAX_ENTRIES],
        truncated=len(entries) > MAX_ENTRIES,
    )


def _activity_sessions(
    session: Session, *, community: Community, start: datetime, end: datetime
) -> list[CalendarEntry]:
    """Sessions that overlap the window: a two-day camp begun yesterday is still on today."""
    zone = clock.zone(community.timezone)
    rows = session.exec(
        select(PlannedSession, PlannedActivity)
        .join(PlannedActivity, col(PlannedActivity.id) == col(PlannedSession.activity_id))
        .where(
            PlannedSession.workspace_id == community.workspace_id,
            PlannedSession.community_id == community.id,
            col(PlannedSession.starts_at) < end,
            col(PlannedSession.ends_at) > start,
        )
        .order_by(col(PlannedSession.starts_at))
        .limit(MAX_ENTRIES + 1)
    )
    return [
        CalendarEntry(
            kind="activity_session",
            local=row.starts_at.astimezone(zone),
            utc=row.starts_at,
            ends_utc=row.ends_at,
            # A cancelled activity cancels every session, whatever each one last said.
            status="cancelled" if activity.status == "cancelled" else row.status,
            title=activity.title,
            content_item_id=None,
            content_kind=None,
            target={
                "group_id": activity.group_id,
                "place": activity.place,
                "online_url": activity.online_url,
            },
            activity_id=activity.id,
            session_id=row.id,
        )
        for row, activity in rows
    ]
