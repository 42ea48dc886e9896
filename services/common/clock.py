"""Time as the platform reckons it: instants are stored and compared in UTC; days, weeks and
months are the community's, in its IANA timezone.

A local day is not 24 hours: across a DST change it is 23 or 25, and some zones skip or
repeat midnight itself. Every function here works from the zone's own rules (zoneinfo), so
a daily cap, a streak or a rollup lands on the day the community lived, never on the
server's day and never shifted an hour twice a year.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil.relativedelta import relativedelta

__all__ = [
    "UTC",
    "Span",
    "UnknownTimezone",
    "as_utc",
    "day_bounds",
    "days_back",
    "is_timezone",
    "local_day",
    "local_midnight",
    "month_bounds",
    "now",
    "week_bounds",
    "zone",
]


class UnknownTimezone(ValueError):
    """Not an IANA timezone name this machine's tz database knows."""


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open stretch of time in UTC: `start <= t < end`."""

    start: datetime
    end: datetime

    def __contains__(self, at: datetime) -> bool:
        return self.start <= at < self.end

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def now() -> datetime:
    """This instant, aware, in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive value is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The zone called `name` ("Asia/Shanghai"), or UnknownTimezone."""
    # ZoneInfo accepts some file paths ("../x") with a ValueError and names of any case on a
    # case-insensitive disk; only the canonical names are taken.
    if not name or name not in _known_names():
        raise UnknownTimezone(f"{name!r} is not an IANA timezone name, e.g. 'Asia/Shanghai'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimezone(f"{name!r} is not an IANA timezone name") from exc


@lru_cache(maxsize=1)
def _known_names() -> frozenset[str]:
    return frozenset(available_timezones())


def is_timezone(name: str) -> bool:
    try:
        zone(name)
    except UnknownTimezone:
        return False
    return True


def local_day(at: datetime, timezone: str) -> date:
    """The calendar day `at` falls on in `timezone`."""
    return as_utc(at).astimezone(zone(timezone)).date()


def local_midnight(day: date, timezone: str) -> datetime:
    """The UTC instant `day` begins in `timezone`. Where midnight does not exist (the clock
    jumps from 23:59 to 01:00) the day begins at the jump; where it happens twice, at the
    first."""
    # fold=0 gives the earlier of two repeated times and, for a missing time, the offset in
    # force before the jump, which lands exactly on the instant of the jump.
    return datetime.combine(day, time(), tzinfo=zone(timezone)).astimezone(UTC)


def day_bounds(day: date, timezone: str) -> Span:
    """The UTC span of one local day: 24 hours, or 23 or 25 across a DST change."""
    return Span(local_midnight(day, timezone), local_midnight(day + timedelta(days=1), timezone))


def week_bounds(day: date, timezone: str, *, first_weekday: int = 0) -> Span:
    """The UTC span of the local week holding `day`; weeks start on `first_weekday`
    (0 = Monday, as ISO 8601 and Chinese calendars count)."""
    start = day - timedelta(days=(day.weekday() - first_weekday) % 7)
    return Span(
        local_midnight(start, timezone), local_midnight(start + timedelta(days=7), timezone)
    )


def month_bounds(day: date, timezone: str) -> Span:
    """The UTC span of the local calendar month holding `day`."""
    first = day.replace(day=1)
    return Span(
        local_midnight(first, timezone), local_midnight(first + relativedelta(months=1), timezone)
    )


def days_back(at: datetime, timezone: str, days: int) -> Span:
    """The last `days` local days up to and including the day of `at`, as a UTC span from
    the first of them to `at`: "active in the last 30 days" for a leaderboard or a rule."""
    if days < 1:
        raise ValueError("days must be at least 1")
    first = local_day(at, timezone) - timedelta(days=days - 1)
    return Span(local_midnight(first, timezone), as_utc(at))
