"""Levels and leaderboard windows: the pure rules of the incentive system."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.members.community.settings import LevelSettings, PointsRules
from services.members.incentives.leaderboard import window_start
from services.members.incentives.ledger import level_for
from services.members.incentives.models import Period

DEFAULT = LevelSettings().thresholds

thresholds = st.lists(st.integers(1, 10**7), min_size=0, max_size=30, unique=True).map(
    lambda rest: [0, *sorted(rest)]
)


@given(thresholds, st.integers(0, 10**8), st.integers(0, 10**8))
def test_level_for_is_monotone(levels: list[int], a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert level_for(low, levels) <= level_for(high, levels)


@given(thresholds, st.data())
def test_level_n_starts_exactly_at_the_nth_threshold(
    levels: list[int], data: st.DataObject
) -> None:
    n = data.draw(st.integers(1, len(levels)))
    assert level_for(levels[n - 1], levels) == n
    if n > 1:
        assert level_for(levels[n - 1] - 1, levels) == n - 1
    assert 1 <= level_for(data.draw(st.integers(-100, 10**8)), levels) <= len(levels)


def test_the_default_levels_are_skools() -> None:
    points = (0, 4, 5, 19, 20, 65, 154, 515, 33014, 33015, 10**9)
    assert [level_for(p, DEFAULT) for p in points] == [1, 1, 2, 2, 3, 4, 4, 6, 8, 9, 9]


@pytest.mark.parametrize("bad", [[5, 10], [0, 10, 10], [0, 20, 10], []])
def test_thresholds_start_at_zero_and_strictly_increase(bad: list[int]) -> None:
    with pytest.raises(ValidationError):
        LevelSettings(thresholds=bad)


def test_manual_adjustments_are_bounded_by_a_setting() -> None:
    assert PointsRules().manual_adjustment_max == 10_000
    with pytest.raises(ValidationError):
        PointsRules(manual_adjustment_max=0)


zones = st.sampled_from(
    ["Asia/Shanghai", "UTC", "America/New_York", "Europe/London", "Pacific/Apia"]
)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(zones, instants, st.sampled_from([Period.week, Period.month]))
def test_a_window_is_whole_local_days_ending_today(zone: str, at: datetime, period: Period) -> None:
    start = window_start(period, zone, at)
    assert start is not None and start <= at
    local = start.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute, local.second) == (0, 0, 0)
    days = 7 if period == Period.week else 30
    assert at.astimezone(ZoneInfo(zone)).date() - local.date() == timedelta(days=days - 1)


def test_all_time_has_no_window() -> None:
    assert window_start(Period.all, "Asia/Shanghai", datetime.now(UTC)) is None
