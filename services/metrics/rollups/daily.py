"""Reading the daily rollups back as the day's stats: totals carried across quiet days,
rates, DAU/WAU/MAU and stickiness, newcomers who spoke within a week, violations by kind.
Formulas are written out in docs/metrics.md; each is one line here."""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from services.common.clock import day_bounds
from services.metrics.replica.models import Community
from services.metrics.rollups.models import DayStats


def ratio(part: float, whole: float) -> float | None:
    """part / whole, rounded to 4 places; None when there is nothing to divide by."""
    return round(part / whole, 4) if whole else None


# Counted for a whole community only.
COMMUNITY_ONLY = (
    "check_ins",
    "attendances",
    "referred_joins",
    "invited_group_joins",
    "referral_successes",
    "referral_failures",
)


@dataclass(frozen=True)
class Scope:
    """Whose days: a whole community, or one of its groups."""

    community: Community
    group_id: str | None = None

    @property
    def days_table(self) -> str:
        return "group_day" if self.group_id else "community_day"

    @property
    def speakers_table(self) -> str:
        return "group_speaker_day" if self.group_id else "community_speaker_day"

    @property
    def owner_column(self) -> str:
        return "group_id" if self.group_id else "community_id"

    @property
    def owner(self) -> str:
        return self.group_id or self.community.community_id


# The counters each day starts from; a day without a row keeps them.
_ZERO = {name: 0 for name, info in DayStats.model_fields.items() if info.default == 0}


def daily_stats(session: Session, *, scope: Scope, first: date, last: date) -> list[DayStats]:
    """One DayStats per local day from `first` to `last`, both included."""
    # Plain dicts while computing (a year is ~10,000 assignments), one model per day at the end.
    span = range((last - first).days + 1)
    days: dict[date, dict[str, Any]] = {first + timedelta(days=i): dict(_ZERO) for i in span}
    params = {"owner": scope.owner, "first": first, "last": last}
    community_only = "" if scope.group_id else ", " + ", ".join(COMMUNITY_ONLY)
    rows = session.execute(
        sa.text(
            'SELECT day, members_total, joined, departed AS "left", messages, member_messages, '
            "operator_messages, replies, negative_messages, speakers, violations"
            f"{community_only} FROM {scope.days_table} "
            f"WHERE {scope.owner_column} = :owner AND day BETWEEN :first AND :last"
        ),
        params,
    ).mappings()
    totals: dict[date, int] = {}
    for row in rows:
        if row["members_total"] is not None:
            totals[row["day"]] = row["members_total"]
        days[row["day"]].update((k, v) for k, v in row.items() if k not in ("day", "members_total"))
    carried = (
        session.execute(
            sa.text(
                f"SELECT members_total FROM {scope.days_table} WHERE {scope.owner_column} = :owner "
                "AND day < :first AND members_total IS NOT NULL ORDER BY day DESC LIMIT 1"
            ),
            params,
        ).scalar_one_or_none()
        or 0
    )
    for day in sorted(days):
        carried = totals.get(day, carried)
        days[day]["members_total"] = carried
    _active_windows(session, scope, days, first, last)
    _newcomers(session, scope, days, first, last)
    _violation_kinds(session, scope, days, first, last)
    result = []
    for day in sorted(days):
        stats = days[day]
        stats["net"] = stats["joined"] - stats["left"]
        stats["dau"] = stats["speakers"]
        stats["speaking_rate"] = ratio(stats["speakers"], stats["members_total"])
        stats["operator_share"] = ratio(stats["operator_messages"], stats["messages"])
        stats["stickiness"] = ratio(stats["dau"], stats["mau"])
        stats.setdefault("violations_by_kind", {})
        result.append(DayStats(day=day, **stats))
    return result


def _active_windows(
    session: Session, scope: Scope, days: dict[date, dict[str, Any]], first: date, last: date
) -> None:
    """WAU and MAU of each day: distinct speakers in the 7 and 30 local days ending on it.

    One read of the speaker-days from 29 days before `first`, then two sliding windows: each
    speaker-day enters a window once and leaves it once, so a year costs one pass, not 365
    overlapping scans."""
    rows = session.execute(
        sa.text(
            f"SELECT day, array_agg(speaker) FROM {scope.speakers_table} "
            f"WHERE {scope.owner_column} = :owner AND day BETWEEN :start AND :last GROUP BY day"
        ),
        {"owner": scope.owner, "start": first - timedelta(days=29), "last": last},
    )
    by_day: dict[date, list[str]] = {day: speakers for day, speakers in rows}
    windows = ((7, "wau", Counter[str]()), (30, "mau", Counter[str]()))
    distinct = {"wau": 0, "mau": 0}
    day = first - timedelta(days=29)
    while day <= last:
        for length, name, seen in windows:
            for speaker in by_day.get(day, ()):
                seen[speaker] += 1
                distinct[name] += seen[speaker] == 1
            for speaker in by_day.get(day - timedelta(days=length), ()):
                seen[speaker] -= 1
                distinct[name] -= seen[speaker] == 0
        if day >= first:
            days[day]["wau"], days[day]["mau"] = distinct["wau"], distinct["mau"]
        day += timedelta(days=1)


def _newcomers(
    session: Session, scope: Scope, days: dict[date, dict[str, Any]], first: date, last: date
) -> None:
    """Who joined each day, and how many of them spoke on that day or the 6 after it."""
    if scope.group_id:
        statement = (
            "WITH joined AS (SELECT p.speaker, (p.joined_at AT TIME ZONE :tz)::date AS day "
            "FROM group_presence p WHERE p.group_id = :owner "
            "AND p.joined_at >= :start AND p.joined_at < :end) "
            "SELECT j.day, count(*), count(*) FILTER (WHERE EXISTS ("
            "SELECT 1 FROM group_speaker_day s WHERE s.group_id = :owner "
            "AND s.speaker = j.speaker AND s.day BETWEEN j.day AND j.day + 6)) "
            "FROM joined j WHERE j.day BETWEEN :first AND :last GROUP BY j.day"
        )
    else:
        statement = (
            "WITH joined AS (SELECT m.member_id, (m.joined_at AT TIME ZONE :tz)::date AS day "
            "FROM member m WHERE m.community_id = :owner "
            "AND m.joined_at >= :start AND m.joined_at < :end) "
            "SELECT j.day, count(*), count(*) FILTER (WHERE EXISTS ("
            "SELECT 1 FROM member_identity i JOIN community_speaker_day s "
            "ON s.community_id = i.community_id AND s.speaker = i.speaker "
            "WHERE i.member_id = j.member_id AND s.day BETWEEN j.day AND j.day + 6)) "
            "FROM joined j WHERE j.day BETWEEN :first AND :last GROUP BY j.day"
        )
    rows = session.execute(
        sa.text(statement),
        {
            "owner": scope.owner,
            "tz": scope.community.timezone,
            "first": first,
            "last": last,
            "start": day_bounds(first, scope.community.timezone).start,
            "end": day_bounds(last, scope.community.timezone).end,
        },
    )
    for day, newcomers, spoke in rows:
        days[day]["newcomers"], days[day]["newcomers_spoke_7d"] = newcomers, spoke


def _violation_kinds(
    session: Session, scope: Scope, days: dict[date, dict[str, Any]], first: date, last: date
) -> None:
    group_filter = "AND group_id = :group" if scope.group_id else ""
    rows = session.execute(
        sa.text(
            "SELECT day, kind, sum(count) FROM violation_day WHERE community_id = :community "
            f"{group_filter} AND day BETWEEN :first AND :last GROUP BY day, kind"
        ),
        {
            "community": scope.community.community_id,
            "group": scope.group_id,
            "first": first,
            "last": last,
        },
    )
    by_day: defaultdict[date, dict[str, int]] = defaultdict(dict)
    for day, kind, count in rows:
        by_day[day][kind] = int(count)
    for day, kinds in by_day.items():
        days[day]["violations_by_kind"] = dict(sorted(kinds.items()))
