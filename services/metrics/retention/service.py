"""Retention: how many members keep speaking, by join-week cohort and period over period.

"Active" is "spoke at least once" (a member's message; operators' are not activity). An
account metrics cannot tie to a member yet counts as its own actor.
"""

from collections import defaultdict
from datetime import date, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from services.metrics.replica.models import Community
from services.metrics.retention.models import CohortPublic, PeriodRetentionPublic
from services.metrics.rollups.daily import ratio
from services.metrics.rollups.series import Interval, bucket_of, next_bucket

COHORT_WEEKS = 12

# Who spoke on which local day, as members where metrics knows the account's member.
_ACTORS = (
    "SELECT s.day, coalesce(i.member_id, s.speaker) AS actor FROM community_speaker_day s "
    "LEFT JOIN member_identity i ON i.community_id = s.community_id AND i.speaker = s.speaker "
    "WHERE s.community_id = :community AND s.day BETWEEN :first AND :last"
)


def cohorts(
    session: Session, *, community: Community, first: date, last: date, today: date
) -> list[CohortPublic]:
    """Cohorts of members by the local week they joined, for join weeks in `first`..`last`."""
    first, last = bucket_of(first, Interval.week), bucket_of(last, Interval.week)
    params = {
        "community": community.community_id,
        "tz": community.timezone,
        "first": first,
        "last": last + timedelta(days=6),
    }
    joined = session.execute(
        sa.text(
            "SELECT member_id, CAST(date_trunc('week', joined_at AT TIME ZONE :tz) AS date) "
            "FROM member WHERE community_id = :community "
            "AND CAST(joined_at AT TIME ZONE :tz AS date) BETWEEN :first AND :last"
        ),
        params,
    ).all()
    week_of = {member_id: week for member_id, week in joined}
    activity = session.execute(
        sa.text(
            f"SELECT DISTINCT CAST(date_trunc('week', a.day) AS date), a.actor FROM ({_ACTORS}) a"
        ),
        params | {"last": last + timedelta(days=7 * (COHORT_WEEKS + 1))},
    ).all()
    active: defaultdict[tuple[date, int], set[str]] = defaultdict(set)
    for week, actor in activity:
        joined_week = week_of.get(actor)
        if joined_week is None:
            continue
        k = (week - joined_week).days // 7
        if 1 <= k <= COHORT_WEEKS:
            active[(joined_week, k)].add(actor)
    sizes: defaultdict[date, int] = defaultdict(int)
    for week in week_of.values():
        sizes[week] += 1
    this_week = bucket_of(today, Interval.week)
    result = []
    for week in sorted(sizes):
        counts = [
            len(active[(week, k)]) if week + timedelta(days=7 * k) < this_week else None
            for k in range(1, COHORT_WEEKS + 1)
        ]
        result.append(
            CohortPublic(
                week=week,
                size=sizes[week],
                active=counts,
                retention=[None if c is None else ratio(c, sizes[week]) for c in counts],
            )
        )
    return result


def period_retention(
    session: Session, *, community: Community, interval: Interval, first: date, last: date
) -> list[PeriodRetentionPublic]:
    """For each period in `first`..`last`: |active now ∩ active before| / |active before|."""
    first = bucket_of(first, interval)
    before = bucket_of(first - timedelta(days=1), interval)
    rows = session.execute(
        sa.text(_ACTORS),
        {"community": community.community_id, "first": before, "last": last},
    ).all()
    actors: defaultdict[date, set[str]] = defaultdict(set)
    for day, actor in rows:
        actors[bucket_of(day, interval)].add(actor)
    periods, start = [], first
    previous = before
    while start <= last:
        now_active, was_active = actors[start], actors[previous]
        retained = len(now_active & was_active)
        periods.append(
            PeriodRetentionPublic(
                start=start,
                active=len(now_active),
                retained=retained,
                retention=ratio(retained, len(was_active)),
            )
        )
        previous, start = start, next_bucket(start, interval)
    return periods
