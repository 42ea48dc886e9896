"""Pure parts of the events service: streaks from local days, the RRULE expansion across DST,
and the draw algorithm's reproducibility."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.events.activities.models import Schedule
from services.events.activities.schedule import in_zone, occurrences
from services.events.challenges.streaks import best_streak, current_streak, runs
from services.events.lotteries.algorithm import run_draw
from services.events.lotteries.models import Entrant, Prize
from services.events.problems import InvalidSchedule

D = date(2026, 12, 1)


def test_streaks_count_consecutive_local_days() -> None:
    days = [D, D + timedelta(1), D + timedelta(2), D + timedelta(4), D + timedelta(5)]
    assert runs(days) == [(D + timedelta(2), 3), (D + timedelta(5), 2)]
    assert (current_streak(days), best_streak(days)) == (2, 3)
    assert (current_streak([]), best_streak([])) == (0, 0)
    # A make-up card filling the gap joins the runs.
    assert current_streak([*days, D + timedelta(3)]) == 6


@given(st.sets(st.integers(min_value=0, max_value=60), max_size=40))
def test_runs_cover_every_day_once(offsets: set[int]) -> None:
    days = [D + timedelta(o) for o in offsets]
    assert sum(length for _, length in runs(days)) == len(offsets)
    assert best_streak(days) >= current_streak(days)


def test_weekly_sessions_keep_wall_clock_time_across_dst() -> None:
    start = in_zone(datetime(2027, 3, 17, 19, 30), "Europe/Berlin")
    slots = occurrences(
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        timezone="Europe/Berlin",
        schedule=Schedule(rrule="FREQ=WEEKLY;COUNT=3", exceptions=[]),
    )
    # 28 March 2027: Berlin moves to summer time; 19:30 local is 18:30 UTC, then 17:30.
    assert [s.astimezone(UTC).strftime("%m-%d %H:%M") for s, _ in slots] == [
        "03-17 18:30",
        "03-24 18:30",
        "03-31 17:30",
    ]


def test_unbounded_rules_are_refused() -> None:
    start = datetime(2027, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidSchedule):
        occurrences(
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            timezone="Asia/Shanghai",
            schedule=Schedule(rrule="FREQ=DAILY", exceptions=[]),
        )


PRIZES = [Prize(name="书", quantity=3, weight=1), Prize(name="耳机", quantity=1, weight=5)]


@given(st.integers(min_value=1, max_value=40), st.text(min_size=8, max_size=20))
def test_a_draw_is_a_function_of_its_record(entrant_count: int, seed: str) -> None:
    entrants = [Entrant(member_id=f"mbr_{i:03d}", allowance=1) for i in range(entrant_count)]
    first = run_draw(seed=seed, entrants=entrants, prizes=PRIZES, blank_weight=0)
    again = run_draw(seed=seed, entrants=list(reversed(entrants)), prizes=PRIZES, blank_weight=0)
    assert first == again
    assert len(first) == min(4, entrant_count)
    assert len({w.member_id for w in first}) == len(first)  # no one wins twice


def test_allowances_allow_duplicates_and_blanks_leave_prizes() -> None:
    entrants = [Entrant(member_id="a", allowance=3), Entrant(member_id="b", allowance=1)]
    winners = run_draw(seed="seed-0001", entrants=entrants, prizes=PRIZES, blank_weight=0)
    assert len(winners) == 4 and sum(w.member_id == "a" for w in winners) == 3
    nothing = run_draw(seed="seed-0001", entrants=entrants, prizes=PRIZES, blank_weight=1e9)
    assert nothing == []
