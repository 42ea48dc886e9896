"""The health score of a group or community: six components, each a value traced to counts,
a 0–1 score, a weight and the sentence an operator reads. Components without data (a group
with no members yet, no publications reported) drop out and the others are reweighted, so a
score never rests on a made-up zero.

The score is for the 14 local days ending yesterday (today is not over), against the 28 days
before them where a baseline is needed.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from services.common.clock import day_bounds
from services.metrics.content_response.models import Publication
from services.metrics.content_response.service import respond
from services.metrics.health.models import ComponentPublic, HealthPublic
from services.metrics.rollups.daily import Scope, daily_stats, ratio
from services.metrics.rollups.models import DayStats

WINDOW_DAYS = 14
BASELINE_DAYS = 28
# The 14-day speaking rate that earns full marks: a third of the members spoke.
SPEAKING_RATE_TARGET = 0.33
# Net growth over 28 days that earns full marks (and its negative, none).
GROWTH_FULL = 0.10

WEIGHTS = {
    "activity_trend": 25,
    "speaking_rate": 20,
    "retention": 20,
    "growth": 15,
    "content_response": 10,
    "operator_only_days": 10,
}


def band_of(score: int) -> str:
    return "healthy" if score >= 70 else "watch" if score >= 40 else "at_risk"


@dataclass(frozen=True)
class Part:
    name: str
    value: float | None
    score: float | None
    counts: Mapping[str, float | int | None]
    reason: str


def health(session: Session, *, scope: Scope, today: date) -> HealthPublic:
    """The score for the days up to yesterday in the community's zone."""
    last = today - timedelta(days=1)
    window_first = last - timedelta(days=WINDOW_DAYS - 1)
    days = daily_stats(
        session, scope=scope, first=window_first - timedelta(days=BASELINE_DAYS), last=last
    )
    recent, before = days[-WINDOW_DAYS:], days[:-WINDOW_DAYS]
    parts = [
        _activity_trend(recent, before),
        _speaking_rate(session, scope, window_first, last, recent[-1].members_total),
        _retention(session, scope, last),
        _growth(days),
        _content_response(session, scope, window_first, last),
        _operator_only(recent),
    ]
    weighed = sum(WEIGHTS[p.name] for p in parts if p.score is not None)
    components = []
    total = 0.0
    for part in parts:
        points = 100 * WEIGHTS[part.name] * part.score / weighed if part.score is not None else 0.0
        total += points
        components.append(
            ComponentPublic(
                name=part.name,
                weight=WEIGHTS[part.name],
                value=part.value,
                score=None if part.score is None else round(part.score, 4),
                contribution=round(points, 2),
                counts=dict(part.counts),
                reason=part.reason,
            )
        )
    score = round(total) if weighed else 0
    return HealthPublic(
        community_id=scope.community.community_id,
        group_id=scope.group_id,
        day=last,
        score=score,
        band=band_of(score),
        components=components,
    )


def _activity_trend(recent: list[DayStats], before: list[DayStats]) -> Part:
    now_avg = sum(d.member_messages for d in recent) / len(recent)
    base_avg = sum(d.member_messages for d in before) / len(before)
    counts = {
        "member_messages_14d": sum(d.member_messages for d in recent),
        "member_messages_previous_28d": sum(d.member_messages for d in before),
    }
    if base_avg == 0:
        score = 1.0 if now_avg > 0 else 0.0
        return Part(
            "activity_trend",
            None,
            score,
            counts,
            "members spoke in the last 14 days and not in the 28 before"
            if now_avg
            else "no member spoke in the last 6 weeks",
        )
    trend = now_avg / base_avg
    change = round((trend - 1) * 100)
    sentence = (
        f"members' messages per day are {abs(change)}% {'up' if change >= 0 else 'down'} "
        "on the 4 weeks before"
    )
    return Part("activity_trend", round(trend, 4), min(trend, 1.0), counts, sentence)


def _distinct_speakers(session: Session, scope: Scope, first: date, last: date) -> set[str]:
    rows = session.execute(
        sa.text(
            f"SELECT DISTINCT speaker FROM {scope.speakers_table} "
            f"WHERE {scope.owner_column} = :owner AND day BETWEEN :first AND :last"
        ),
        {"owner": scope.owner, "first": first, "last": last},
    )
    return {row[0] for row in rows}


def _speaking_rate(session: Session, scope: Scope, first: date, last: date, members: int) -> Part:
    speakers = len(_distinct_speakers(session, scope, first, last))
    counts = {"speakers_14d": speakers, "members_total": members}
    rate = ratio(speakers, members)
    if rate is None:
        return Part("speaking_rate", None, None, counts, "no data: no members yet")
    sentence = f"{speakers} of {members} members spoke in the last 14 days ({round(rate * 100)}%)"
    return Part("speaking_rate", rate, min(rate / SPEAKING_RATE_TARGET, 1.0), counts, sentence)


def _retention(session: Session, scope: Scope, last: date) -> Part:
    this_week = _distinct_speakers(session, scope, last - timedelta(days=6), last)
    week_before = _distinct_speakers(
        session, scope, last - timedelta(days=13), last - timedelta(days=7)
    )
    kept = len(this_week & week_before)
    counts = {"active_previous_7d": len(week_before), "active_again_last_7d": kept}
    rate = ratio(kept, len(week_before))
    if rate is None:
        return Part("retention", None, None, counts, "no data: nobody spoke the week before")
    sentence = f"{kept} of the {len(week_before)} who spoke the week before spoke again last week"
    return Part("retention", rate, rate, counts, sentence)


def _growth(days: list[DayStats]) -> Part:
    recent = days[-BASELINE_DAYS:]
    start_total = days[-BASELINE_DAYS - 1].members_total
    net = sum(d.net for d in recent)
    counts = {"net_28d": net, "members_28d_ago": start_total}
    rate = ratio(net, start_total)
    if rate is None:
        score = 1.0 if net > 0 else 0.5
        return Part("growth", None, score, counts, f"{net:+d} members in 28 days, from none")
    score = min(max(0.5 + rate / (2 * GROWTH_FULL), 0.0), 1.0)
    sentence = f"{net:+d} members in 28 days ({rate * 100:+.1f}% of {start_total})"
    return Part("growth", rate, score, counts, sentence)


def _content_response(session: Session, scope: Scope, first: date, last: date) -> Part:
    """The mean lift of the publications of the window over their baseline hours."""
    start = day_bounds(first, scope.community.timezone).start
    end = day_bounds(last, scope.community.timezone).end
    statement = select(Publication).where(
        Publication.community_id == scope.community.community_id,
        col(Publication.published_at) >= start,
        col(Publication.published_at) < end,
    )
    if scope.group_id:
        statement = statement.where(Publication.group_id == scope.group_id)
    responses = [respond(session, p) for p in session.exec(statement).all()]
    lifts = [r.lift for r in responses if r.lift is not None]
    counts = {"publications_14d": len(responses), "with_a_baseline": len(lifts)}
    if not lifts:
        return Part("content_response", None, None, counts, "no data: no publication measured")
    lift = round(sum(lifts) / len(lifts), 4)
    sentence = (
        f"publications drew {lift:.1f}× the usual messages in the 2 hours after them "
        f"({len(lifts)} publications)"
    )
    return Part("content_response", lift, min(lift / 2, 1.0), counts, sentence)


def _operator_only(recent: list[DayStats]) -> Part:
    only = sum(1 for d in recent if d.operator_messages and not d.member_messages)
    counts = {"operator_only_days_14d": only, "days": len(recent)}
    sentence = (
        f"only operators spoke in {only} of the last {len(recent)} days"
        if only
        else "members spoke on every day operators did"
    )
    return Part("operator_only_days", only, 1 - only / len(recent), counts, sentence)
