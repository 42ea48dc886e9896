"""Streaks from a set of local days: pure functions, so DST and midnight never enter into it
(the days are already the community's)."""

from collections.abc import Iterable
from datetime import date, timedelta


def runs(days: Iterable[date]) -> list[tuple[date, int]]:
    """(last day, length) of each run of consecutive days, in order."""
    out: list[tuple[date, int]] = []
    for day in sorted(set(days)):
        if out and out[-1][0] + timedelta(days=1) == day:
            out[-1] = (day, out[-1][1] + 1)
        else:
            out.append((day, 1))
    return out


def current_streak(days: Iterable[date]) -> int:
    """The run that ends at the latest day checked in."""
    found = runs(days)
    return found[-1][1] if found else 0


def best_streak(days: Iterable[date]) -> int:
    return max((length for _, length in runs(days)), default=0)
