"""When a schedule fires: a one-off local date-time, or an RFC 5545 RRULE whose DTSTART is a
wall-clock time in the community's timezone. python-dateutil expands the rule; this module
only puts each wall-clock instance on the time line.

The rule is expanded in local wall-clock time, so "every weekday at 19:20" stays at 19:20
across DST changes (its UTC time moves by an hour instead). The two DST edge cases follow
RFC 5545 §3.3.5:

- a local time that does not exist (02:30 on a spring-forward night in New York or Berlin)
  is read with the offset in force before the gap, so it fires at the instant of the jump
  plus the same 30 minutes: 02:30 EST = 03:30 EDT;
- a local time that happens twice (01:30 on an autumn night in New York, 02:30 in Berlin)
  fires once, at the first of the two (daylight time).

Where two wall-clock instances land on one instant (02:30 and 03:30 on a spring-forward day)
the occurrence fires once. EXDATEs are wall-clock times too. Occurrences inside the quiet
hours are not fired at all.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache

from dateutil.rrule import DAILY, HOURLY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr

from services.common import clock

# Finer rules would turn a schedule into a message flood; nobody plans content by the minute.
_ALLOWED_FREQS = {YEARLY, MONTHLY, WEEKLY, DAILY, HOURLY}
_UNTIL_UTC = re.compile(r"UNTIL=(\d{8}T\d{6})Z", re.IGNORECASE)
# How far a search window is widened in local time, so that no zone offset loses an instance.
_MARGIN = timedelta(days=2)
_GAP = timedelta(hours=3)
# A rule whose every instance is excluded (EXDATEs, quiet hours) must not loop for ever.
_MAX_LOOK = 100_000


class InvalidRecurrence(ValueError):
    """A recurrence that cannot be used; `field` names the input that is wrong."""

    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


@dataclass(frozen=True, slots=True)
class Occurrence:
    local: datetime  # aware, in the schedule's zone, as a wall clock there reads it
    utc: datetime


@dataclass(frozen=True)
class Recurrence:
    timezone: str
    starts_at: datetime  # naive: a wall-clock time in `timezone` (DTSTART, or the one-off time)
    rule: str | None = None  # the RRULE value, without "RRULE:"
    exdates: frozenset[datetime] = field(default_factory=frozenset)  # naive wall-clock times
    quiet_start: time | None = None
    quiet_end: time | None = None

    def between(self, start: datetime, end: datetime, *, limit: int = 10_000) -> list[Occurrence]:
        """Occurrences at or after `start` and before `end` (UTC instants), in order."""
        zone = clock.zone(self.timezone)
        lo = start.astimezone(zone).replace(tzinfo=None) - _MARGIN
        hi = end.astimezone(zone).replace(tzinfo=None) + _MARGIN
        found: dict[datetime, Occurrence] = {}
        for wall in self._walls(lo, hi):
            occurrence = self._place(wall)
            if occurrence is not None and start <= occurrence.utc < end:
                found.setdefault(occurrence.utc, occurrence)
                if len(found) >= limit:
                    break
        return [found[k] for k in sorted(found)]

    def first_after(self, at: datetime, *, inclusive: bool = False) -> Occurrence | None:
        """The first occurrence after the UTC instant `at` (or at it, if `inclusive`)."""
        zone = clock.zone(self.timezone)
        lo = at.astimezone(zone).replace(tzinfo=None) - _MARGIN
        best: Occurrence | None = None
        best_wall: datetime | None = None
        for looked, wall in enumerate(self._walls(lo, None)):
            # Wall-clock order is the time line's order except inside a spring-forward gap,
            # so a later instance can only win within a few hours of the best so far.
            if (best_wall is not None and wall > best_wall + _GAP) or looked > _MAX_LOOK:
                break
            occurrence = self._place(wall)
            if (
                occurrence is None
                or occurrence.utc < at
                or (occurrence.utc == at and not inclusive)
            ):
                continue
            if best is None or occurrence.utc < best.utc:
                best, best_wall = occurrence, wall
        return best

    def _walls(self, lo: datetime, hi: datetime | None) -> Iterator[datetime]:
        if self.rule is None:
            if lo <= self.starts_at and (hi is None or self.starts_at <= hi):
                yield self.starts_at
            return
        expansion = _expansion(self.rule, self.starts_at)
        walls = (
            expansion.xafter(lo, inc=True) if hi is None else expansion.between(lo, hi, inc=True)
        )
        for wall in walls:
            if hi is not None and wall > hi:
                return
            yield wall

    def _place(self, wall: datetime) -> Occurrence | None:
        if wall in self.exdates or self._quiet(wall.time()):
            return None
        # fold=0: a missing time takes the offset before the gap, a repeated one its first
        # reading; both as RFC 5545 says.
        utc = wall.replace(tzinfo=clock.zone(self.timezone), fold=0).astimezone(UTC)
        return Occurrence(local=utc.astimezone(clock.zone(self.timezone)), utc=utc)

    def _quiet(self, at: time) -> bool:
        if self.quiet_start is None or self.quiet_end is None:
            return False
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= at < self.quiet_end
        return at >= self.quiet_start or at < self.quiet_end  # across midnight: 22:00–07:00


@lru_cache(maxsize=4096)
def _expansion(rule: str, starts_at: datetime) -> rrule:
    expanded = rrulestr(rule, dtstart=starts_at)
    assert isinstance(expanded, rrule)
    return expanded


def local_wall_time(value: datetime, timezone: str) -> datetime:
    """A naive wall-clock time in `timezone`: naive input is taken as such already, an aware
    one is converted."""
    if value.tzinfo is None:
        return value.replace(microsecond=0)
    return value.astimezone(clock.zone(timezone)).replace(tzinfo=None, microsecond=0)


def parse(
    *,
    timezone: str,
    starts_at: datetime,
    rule: str | None,
    exdates: list[datetime] | tuple[datetime, ...] = (),
    quiet_start: time | None = None,
    quiet_end: time | None = None,
) -> Recurrence:
    """A checked recurrence, or InvalidRecurrence naming the field and the reason."""
    try:
        clock.zone(timezone)
    except clock.UnknownTimezone as exc:
        raise InvalidRecurrence("timezone", str(exc)) from exc
    wall_start = local_wall_time(starts_at, timezone)
    if (quiet_start is None) != (quiet_end is None):
        raise InvalidRecurrence("quiet_hours", "give both the start and the end of quiet hours")
    normalised = _normalise_rule(rule, timezone) if rule is not None else None
    if normalised is not None:
        try:
            expansion = _expansion(normalised, wall_start)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise InvalidRecurrence("rrule", f"not a valid RFC 5545 RRULE: {exc}") from exc
        if expansion._freq not in _ALLOWED_FREQS:
            raise InvalidRecurrence(
                "rrule", "FREQ must be YEARLY, MONTHLY, WEEKLY, DAILY or HOURLY"
            )
        until = expansion._until
        if until is not None and expansion._count is not None:
            raise InvalidRecurrence("rrule", "give UNTIL or COUNT, not both (RFC 5545)")
        if until is not None and until < wall_start:
            raise InvalidRecurrence(
                "rrule", f"UNTIL {until.isoformat()} is before DTSTART {wall_start.isoformat()}"
            )
    return Recurrence(
        timezone=timezone,
        starts_at=wall_start,
        rule=normalised,
        exdates=frozenset(local_wall_time(d, timezone) for d in exdates),
        quiet_start=quiet_start,
        quiet_end=quiet_end,
    )


def _normalise_rule(rule: str, timezone: str) -> str:
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    if not text or any(c in text for c in "\r\n") or "DTSTART" in text.upper():
        raise InvalidRecurrence(
            "rrule", "give one RRULE value such as FREQ=WEEKLY;BYDAY=MO; DTSTART is `starts_at`"
        )

    # Expansion runs in wall-clock time, so an UNTIL given in UTC (as RFC 5545 asks when
    # DTSTART has a TZID) is turned into the zone's wall-clock time.
    def to_wall(match: re.Match[str]) -> str:
        instant = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        wall = instant.astimezone(clock.zone(timezone)).replace(tzinfo=None)
        return f"UNTIL={wall.strftime('%Y%m%dT%H%M%S')}"

    return _UNTIL_UTC.sub(to_wall, text)
