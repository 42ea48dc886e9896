"""Reading the daily rollups back as the day's stats: totals carried across quiet days,
rates, DAU/WAU/MAU and stickiness, newcomers who spoke within a week, violations by kind.
Formulas are written out in docs/metrics.md; each is one line here."""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

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


def daily_stats(session: Session, *, scope: Scope, first: date, last: date) -> list[DayStats]:
    """One DayStats per local day from `first` to `last`, both included."""
    span = range((last - first).days + 1)
    days = {first + timedelta(days=i): DayStats(day=first + timedelta(days=i)) for i in span}
    params = {"owner": scope.owner, "first": first, "last": last}
    community_only = "" if scope.group_id else ", " + ", ".join(COMMUNITY_ONLY)
    rows = session.execute(
        sa.text(
            "SELECT day, members_total, joined, departed, messages, member_messages, "
            "operator_messages, replies, negative_messages, speakers, violations"
            f"{community_only} FROM {scope.days_table} "
            f"WHERE {scope.owner_column} = :owner AND day BETWEEN :first AND :last"
        ),
        params,
    ).mappings()
    totals: dict[date, int] = {}
    for row in rows:
        stats = days[row["day"]]
        if row["members_total"] is not None:
            totals[row["day"]] = row["members_total"]
        stats.joined, stats.left = row["joined"], row["departed"]
        stats.messages, stats.member_messages = row["messages"], row["member_messages"]
        stats.operator_messages, stats.replies = row["operator_messages"], row["replies"]
        stats.negative_messages, stats.speakers = row["negative_messages"], row["speakers"]
        stats.violations = row["violations"]
        if not scope.group_id:
            for name in COMMUNITY_ONLY:
                setattr(stats, name, row[name])
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
    for day, stats in sorted(days.items()):
        carried = totals.get(day, carried)
        stats.members_total = carried
    _active_windows(session, scope, days, first, last)
    _newcomers(session, scope, days, first, last)
    _violation_kinds(session, scope, days, first, last)
    for stats in days.values():
        stats.net = stats.joined - stats.left
        stats.dau = stats.speakers
        stats.speaking_rate = ratio(stats.speakers, stats.members_total)
        stats.operator_share = ratio(stats.operator_messages, stats.messages)
        stats.stickiness = ratio(stats.dau, stats.mau)
    return [days[d] for d in sorted(days)]


def _active_windows(
    session: Session, scope: Scope, days: dict[date, DayStats], first: date, last: date
) -> None:
    """WAU and MAU of each day: distinct speakers in the 7 and 30 local days ending on it.

    One read of the speaker-days from 29 days before `first`, then two sliding windows: each
    speaker-day enters a window once and leaves it once, so a year costs one pass, not 365
    overlapping scans."""
    rows = session.execute(
        sa.text(
            f"SELECT day, speaker FROM {scope.speakers_table} "
            f"WHERE {scope.owner_column} = :owner AND day BETWEEN :start AND :last"
        ),
        {"owner": scope.owner, "start": first - timedelta(days=29), "last": last},
    )
    by_day: defaultdict[date, list[str]] = defaultdict(list)
    for day, speaker in rows:
        by_day[day].append(speaker)
    week: Counter[str] = Counter()
    month: Counter[str] = Counter()
    day = first - timedelta(days=29)
    while day <= last:
        week.update(by_day.get(day, ()))
        month.update(by_day.get(day, ()))
        week.subtract(by_day.get(day - timedelta(days=7), ()))
        month.subtract(by_day.get(day - timedelta(days=30), ()))
        if day >= first:
            week, month = +week, +month  # drop speakers whose count fell to zero
            days[day].wau, days[day].mau = len(week), len(month)
        day += timedelta(days=1)


def _newcomers(
    session: Session, scope: Scope, days: dict[date, DayStats], first: date, last: date
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
        days[day].newcomers, days[day].newcomers_spoke_7d = newcomers, spoke


def _violation_kinds(
    session: Session, scope: Scope, days: dict[date, DayStats], first: date, last: date
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
        days[day].violations_by_kind = dict(sorted(kinds.items()))
