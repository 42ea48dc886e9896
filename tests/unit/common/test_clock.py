"""The kit's clock: local days, weeks and months in a community's zone, DST included."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common import clock


def test_a_shanghai_evening_in_utc_is_the_next_local_day():
    # 16:30 UTC is 00:30 the next morning in Shanghai (UTC+8, no DST).
    assert clock.local_day(datetime(2026, 3, 1, 16, 30, tzinfo=UTC), "Asia/Shanghai") == date(
        2026, 3, 2
    )
    assert clock.local_day(datetime(2026, 3, 1, 15, 59, tzinfo=UTC), "Asia/Shanghai") == date(
        2026, 3, 1
    )


def test_naive_instants_are_utc():
    assert clock.as_utc(datetime(2026, 1, 1, 12)) == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert clock.local_day(datetime(2026, 1, 1, 23), "Asia/Shanghai") == date(2026, 1, 2)


@pytest.mark.parametrize(
    ("timezone", "day", "hours"),
    [
        ("Asia/Shanghai", date(2026, 3, 29), 24),
        ("Europe/Berlin", date(2026, 3, 29), 23),  # spring forward, 02:00 → 03:00
        ("Europe/Berlin", date(2026, 10, 25), 25),  # fall back, 03:00 → 02:00
        ("America/New_York", date(2026, 3, 8), 23),
        ("America/New_York", date(2026, 11, 1), 25),
        ("America/Havana", date(2026, 3, 8), 23),  # midnight itself does not exist
    ],
)
def test_a_local_day_lasts_as_long_as_the_zone_says(timezone, day, hours):
    span = clock.day_bounds(day, timezone)
    assert span.duration == timedelta(hours=hours)
    assert clock.local_day(span.start, timezone) == day
    assert clock.local_day(span.end - timedelta(microseconds=1), timezone) == day
    assert clock.local_day(span.end, timezone) == day + timedelta(days=1)


def test_a_day_whose_midnight_is_skipped_starts_at_the_jump():
    # Havana springs forward at 00:00 (UTC-5) to 01:00 (UTC-4): the day begins at 05:00 UTC.
    assert clock.local_midnight(date(2026, 3, 8), "America/Havana") == datetime(
        2026, 3, 8, 5, tzinfo=UTC
    )


def test_berlin_day_bounds_in_utc():
    span = clock.day_bounds(date(2026, 10, 25), "Europe/Berlin")
    assert span.start == datetime(2026, 10, 24, 22, tzinfo=UTC)  # CEST, UTC+2
    assert span.end == datetime(2026, 10, 25, 23, tzinfo=UTC)  # CET, UTC+1


def test_weeks_start_on_monday_unless_told_otherwise():
    wednesday = date(2026, 12, 2)
    week = clock.week_bounds(wednesday, "Asia/Shanghai")
    assert week.start == datetime(2026, 11, 29, 16, tzinfo=UTC)  # Monday 30 Nov, 00:00 +08
    assert week.duration == timedelta(days=7)
    sunday_week = clock.week_bounds(wednesday, "Asia/Shanghai", first_weekday=6)
    assert sunday_week.start == datetime(2026, 11, 28, 16, tzinfo=UTC)


def test_a_week_across_the_berlin_change_is_167_hours():
    assert clock.week_bounds(date(2026, 3, 25), "Europe/Berlin").duration == timedelta(hours=167)


def test_month_bounds_follow_the_calendar():
    february = clock.month_bounds(date(2028, 2, 14), "Asia/Shanghai")
    assert february.start == datetime(2028, 1, 31, 16, tzinfo=UTC)
    assert february.end == datetime(2028, 2, 29, 16, tzinfo=UTC)  # a leap year
    march = clock.month_bounds(date(2026, 3, 31), "Europe/Berlin")
    assert march.duration == timedelta(days=31) - timedelta(hours=1)


def test_days_back_counts_local_days_including_today():
    at = datetime(2026, 3, 10, 1, tzinfo=UTC)  # 09:00 on 10 March in Shanghai
    span = clock.days_back(at, "Asia/Shanghai", 7)
    assert span.start == datetime(2026, 3, 3, 16, tzinfo=UTC)  # 00:00 on 4 March, local
    assert span.end == at
    assert at - timedelta(microseconds=1) in span
    with pytest.raises(ValueError):
        clock.days_back(at, "Asia/Shanghai", 0)


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "asia/shanghai", "../etc/passwd", "UTC+8"])
def test_unknown_zones_are_refused(name):
    assert not clock.is_timezone(name)
    with pytest.raises(clock.UnknownTimezone):
        clock.zone(name)


def test_known_zones_are_taken():
    assert clock.is_timezone("Asia/Shanghai")
    assert clock.is_timezone("UTC")


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31)),
    st.sampled_from(["Asia/Shanghai", "Europe/Berlin", "America/New_York", "America/Havana"]),
)
def test_every_instant_lies_in_the_bounds_of_its_own_day(at, timezone):
    at = at.replace(tzinfo=UTC)
    assert at in clock.day_bounds(clock.local_day(at, timezone), timezone)
    assert at in clock.week_bounds(clock.local_day(at, timezone), timezone)
    assert at in clock.month_bounds(clock.local_day(at, timezone), timezone)
