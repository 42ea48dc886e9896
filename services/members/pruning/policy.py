"""The calendar of inactivity pruning, as pure functions of local dates (no database).

Seed 002 says: "on the 15th of each month I remove those who did not take part in the
discussion 3 or more times in the month". We read "the month" as the month that has just
ended on the run day: a run on 15 Nov judges 15 Oct–14 Nov (window `trailing`), so nobody
is removed for a silence the run is six weeks late to see, and every day is judged exactly
once by consecutive runs. Communities that think in calendar months choose `calendar`: a run
on 15 Nov then judges 1–31 Oct. Weekly policies work alike with 7 days or Monday–Sunday.

A run started by hand on any day judges the period that would end the day before it, so a
dry run on the run day shows exactly what the scheduled run will do.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from services.members.community.settings import InactivitySettings


@dataclass(frozen=True)
class Period:
    start: date  # first local day judged
    end: date  # last local day judged (inclusive)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def period_before(run_day: date, policy: InactivitySettings) -> Period:
    """The full period a run on `run_day` (a local date) judges."""
    end = run_day - timedelta(days=1)
    if policy.period == "week":
        if policy.window == "calendar":
            monday = run_day - timedelta(days=run_day.weekday())
            return Period(monday - timedelta(days=7), monday - timedelta(days=1))
        return Period(run_day - timedelta(days=7), end)
    if policy.window == "calendar":
        first = run_day.replace(day=1)
        return Period(first - relativedelta(months=1), first - timedelta(days=1))
    return Period(run_day - relativedelta(months=1), end)


def is_run_day(day: date, policy: InactivitySettings) -> bool:
    """Whether scheduled pruning happens on this local date."""
    if policy.period == "week":
        return day.weekday() == policy.run_day
    return day.day == policy.run_day


def discussion_days(period: Period, weekdays: list[int]) -> int:
    """How many days of the period fall on the given weekdays (0 = Monday)."""
    wanted = set(weekdays)
    return sum(
        1 for n in range(period.days) if (period.start + timedelta(days=n)).weekday() in wanted
    )


def participation_floor(period: Period, policy: InactivitySettings) -> int:
    """A member with fewer counted participations than this is a candidate.

    With discussion weekdays, missing `max_missed_discussions` of the held discussions makes
    a candidate: held − participated ≥ max_missed ⇔ participated < held − max_missed + 1.
    """
    if policy.discussion_weekdays:
        held = discussion_days(period, policy.discussion_weekdays)
        return max(0, held - policy.max_missed_discussions + 1)
    return policy.min_participations


def missed(period: Period, policy: InactivitySettings, participations: int) -> int | None:
    """Discussions missed, when the policy counts discussions; None otherwise."""
    if not policy.discussion_weekdays:
        return None
    return discussion_days(period, policy.discussion_weekdays) - participations
