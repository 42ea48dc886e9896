"""The pruning calendar: which local days each run judges, and the missed-discussion rule."""

import itertools
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from services.members.community.settings import InactivitySettings
from services.members.pruning.policy import (
    discussion_days,
    is_run_day,
    missed,
    participation_floor,
    period_before,
)

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
monthly = st.builds(
    InactivitySettings,
    period=st.just("month"),
    run_day=st.integers(1, 28),
    window=st.sampled_from(["trailing", "calendar"]),
)
weekly = st.builds(
    InactivitySettings,
    period=st.just("week"),
    run_day=st.integers(0, 6),
    window=st.sampled_from(["trailing", "calendar"]),
)


def test_the_seeds_example_a_run_on_the_15th_judges_the_month_before_it() -> None:
    trailing = InactivitySettings()
    assert period_before(date(2025, 11, 15), trailing).start == date(2025, 10, 15)
    assert period_before(date(2025, 11, 15), trailing).end == date(2025, 11, 14)
    calendar = InactivitySettings(window="calendar")
    assert period_before(date(2025, 3, 15), calendar).start == date(2025, 2, 1)
    assert period_before(date(2025, 3, 15), calendar).end == date(2025, 2, 28)


@given(policy=st.one_of(monthly, weekly), start=days, runs=st.integers(2, 30))
def test_consecutive_scheduled_runs_judge_every_day_exactly_once(
    policy: InactivitySettings, start: date, runs: int
) -> None:
    run_days: list[date] = []
    day = start
    while len(run_days) < runs:
        if is_run_day(day, policy):
            run_days.append(day)
        day += timedelta(days=1)
    periods = [period_before(d, policy) for d in run_days]
    for run_day, period in zip(run_days, periods, strict=True):
        assert period.start <= period.end < run_day
    for earlier, later in itertools.pairwise(periods):
        assert later.start == earlier.end + timedelta(days=1)


@given(policy=monthly, run_day=days)
def test_monthly_periods_are_a_month_long(policy: InactivitySettings, run_day: date) -> None:
    """A run on any day (by hand too) judges the month up to yesterday, or the last calendar
    month; from the 29th on, "a month ago" is clamped to the shorter month's last day."""
    period = period_before(run_day, policy)
    if policy.window == "calendar":
        assert period.start.day == 1 and period.end.month != run_day.month
        assert period.start + relativedelta(months=1) == period.end + timedelta(days=1)
    else:
        assert period.start == run_day - relativedelta(months=1)
        assert period.end == run_day - timedelta(days=1)


@given(policy=weekly, run_day=days)
def test_weekly_periods_are_seven_days(policy: InactivitySettings, run_day: date) -> None:
    period = period_before(run_day, policy)
    assert period.days == 7
    if policy.window == "calendar":
        assert period.start.weekday() == 0


@given(
    run_day=days,
    weekdays=st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True),
    max_missed=st.integers(1, 40),
    data=st.data(),
)
def test_a_candidate_is_exactly_who_missed_too_many_discussions(
    run_day: date, weekdays: list[int], max_missed: int, data: st.DataObject
) -> None:
    policy = InactivitySettings(discussion_weekdays=weekdays, max_missed_discussions=max_missed)
    period = period_before(run_day, policy)
    held = discussion_days(period, weekdays)
    took_part = data.draw(st.integers(0, held))
    is_candidate = took_part < participation_floor(period, policy)
    assert is_candidate == (missed(period, policy, took_part) >= max_missed)  # type: ignore[operator]


@given(min_participations=st.integers(1, 366), run_day=days)
def test_without_discussion_days_the_floor_is_the_minimum(
    min_participations: int, run_day: date
) -> None:
    policy = InactivitySettings(min_participations=min_participations)
    period = period_before(run_day, policy)
    assert participation_floor(period, policy) == min_participations
    assert missed(period, policy, 0) is None
