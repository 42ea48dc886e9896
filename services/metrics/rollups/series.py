"""Time series of one metric by day, ISO week or calendar month, from the daily stats.

Counts add up over a bucket; a member total is the one at the bucket's end; `speakers` is
distinct over the bucket (a member who spoke on three days of a week counts once); `dau` is
the mean over the bucket's days; rates are recomputed from the bucket's own counts.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session

from services.metrics.rollups.daily import Scope, daily_stats, ratio
from services.metrics.rollups.models import DayStats


class Interval(StrEnum):
    day = "day"
    week = "week"
    month = "month"


ADDITIVE = (
    "joined",
    "left",
    "net",
    "messages",
    "member_messages",
    "operator_messages",
    "replies",
    "negative_messages",
    "newcomers",
    "newcomers_spoke_7d",
    "check_ins",
    "attendances",
    "violations",
    "referred_joins",
    "invited_group_joins",
    "referral_successes",
    "referral_failures",
)
METRICS = (
    *ADDITIVE,
    "members_total",
    "speakers",
    "speaking_rate",
    "dau",
    "wau",
    "mau",
    "stickiness",
    "operator_share",
)


@dataclass(frozen=True)
class Point:
    start: date  # the bucket's first local day
    value: float | int | None


def bucket_of(day: date, interval: Interval) -> date:
    if interval is Interval.week:
        return day - timedelta(days=day.weekday())
    if interval is Interval.month:
        return day.replace(day=1)
    return day


def next_bucket(start: date, interval: Interval) -> date:
    """The first day of the bucket after the one starting on `start`."""
    if interval is Interval.week:
        return start + timedelta(days=7)
    if interval is Interval.month:
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


def series(
    session: Session, *, scope: Scope, metric: str, interval: Interval, first: date, last: date
) -> list[Point]:
    """`metric` per bucket of `interval` over the local days `first`..`last`."""
    days = daily_stats(session, scope=scope, first=first, last=last)
    if interval is Interval.day:
        return [Point(d.day, getattr(d, metric)) for d in days]
    buckets: defaultdict[date, list[DayStats]] = defaultdict(list)
    for stats in days:
        buckets[bucket_of(stats.day, interval)].append(stats)
    distinct = _distinct_speakers(session, scope, interval, first, last)
    points = []
    for start, members in sorted(buckets.items()):
        points.append(Point(start, _bucket_value(metric, members, distinct.get(start, 0))))
    return points


def _bucket_value(metric: str, days: list[DayStats], speakers: int) -> float | int | None:
    end = days[-1]
    if metric in ADDITIVE:
        return sum(getattr(d, metric) for d in days)
    if metric == "members_total":
        return end.members_total
    if metric == "speakers":
        return speakers
    if metric == "speaking_rate":
        return ratio(speakers, end.members_total)
    if metric == "dau":
        return round(sum(d.dau for d in days) / len(days), 2)
    if metric in ("wau", "mau"):
        return int(getattr(end, metric))
    if metric == "stickiness":
        return ratio(sum(d.dau for d in days) / len(days), speakers)
    if metric == "operator_share":
        return ratio(sum(d.operator_messages for d in days), sum(d.messages for d in days))
    raise ValueError(metric)


def _distinct_speakers(
    session: Session, scope: Scope, interval: Interval, first: date, last: date
) -> dict[date, int]:
    rows = session.execute(
        sa.text(
            f"SELECT CAST(date_trunc(:unit, day) AS date), count(DISTINCT speaker) "
            f"FROM {scope.speakers_table} WHERE {scope.owner_column} = :owner "
            "AND day BETWEEN :first AND :last GROUP BY 1"
        ),
        {"unit": interval.value, "owner": scope.owner, "first": first, "last": last},
    )
    return {row[0]: row[1] for row in rows}
