"""When a playbook step is due: pure functions of the anchor instant, the step and the
community's timezone. "Day N at HH:MM" is a wall-clock time on the anchor's local day plus N
(a time that does not exist that day is read with the offset before the gap, a repeated one
at its first reading, as schedules do); a send window moves a time outside it to the
window's next opening."""

from datetime import UTC, datetime, time, timedelta

from services.common import clock
from services.content.playbooks.models import SendWindow, Step


def _instant(day: datetime, at: time, timezone: str) -> datetime:
    wall = datetime.combine(day.date(), at)
    return wall.replace(tzinfo=clock.zone(timezone), fold=0).astimezone(UTC)


def in_window(due: datetime, window: SendWindow, timezone: str) -> datetime:
    """`due`, or the next opening of the (local) send window after it."""
    local = due.astimezone(clock.zone(timezone))
    start, end = window.start, window.end
    at = local.time()
    inside = start <= at < end if start <= end else (at >= start or at < end)
    if inside:
        return due
    opening = _instant(local, start, timezone)
    return opening if opening > due else _instant(local + timedelta(days=1), start, timezone)


def due_at(step: Step, *, anchored_at: datetime, timezone: str) -> datetime:
    if step.after_minutes is not None:
        due = anchored_at + timedelta(minutes=step.after_minutes)
    else:
        assert step.day is not None and step.at is not None
        local_anchor = anchored_at.astimezone(clock.zone(timezone))
        due = _instant(local_anchor + timedelta(days=step.day), step.at, timezone)
    return in_window(due, step.window, timezone) if step.window else due
