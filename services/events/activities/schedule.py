"""Sessions of an activity: one, or one per occurrence of its RRULE (python-dateutil), counted
in the community's zone so a weekly 19:30 stays 19:30 local across DST; local dates listed as
exceptions have no session."""

from datetime import UTC, datetime, timedelta
from itertools import islice

from dateutil.rrule import rrulestr

from services.common.clock import as_utc, zone
from services.events.activities.models import Schedule
from services.events.problems import InvalidSchedule

MAX_SESSIONS = 366


def in_zone(value: datetime, timezone: str) -> datetime:
    """A time from the API in UTC: naive means wall-clock time in the community's zone.
    Years far outside any plan are refused, so zone arithmetic never overflows."""
    if not 1970 <= value.year <= 2200:
        raise InvalidSchedule(reason=f"{value.isoformat()} is not between 1970 and 2200")
    if value.tzinfo is None:
        return value.replace(tzinfo=zone(timezone)).astimezone(UTC)
    return as_utc(value)


def occurrences(
    *, starts_at: datetime, ends_at: datetime, timezone: str, schedule: Schedule | None
) -> list[tuple[datetime, datetime]]:
    """(start, end) in UTC of every session, in order."""
    if ends_at <= starts_at:
        raise InvalidSchedule(reason="ends_at must be after starts_at")
    duration: timedelta = ends_at - starts_at
    if schedule is None:
        return [(starts_at, ends_at)]
    tz = zone(timezone)
    local_start = starts_at.astimezone(tz).replace(tzinfo=None)
    try:
        rule = rrulestr(schedule.rrule, dtstart=local_start)
        local_starts = list(islice(iter(rule), MAX_SESSIONS + 1))
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidSchedule(reason=f"the RRULE is not valid: {exc}") from exc
    if len(local_starts) > MAX_SESSIONS:
        raise InvalidSchedule(
            reason=f"the RRULE makes more than {MAX_SESSIONS} sessions; "
            "bound it with COUNT or UNTIL"
        )
    skipped = set(schedule.exceptions)
    sessions = []
    for local in local_starts:
        if local.date() in skipped:
            continue
        start = local.replace(tzinfo=tz).astimezone(UTC)
        sessions.append((start, start + duration))
    if not sessions:
        raise InvalidSchedule(reason="the RRULE and its exceptions leave no session")
    return sessions
