"""The conditions that open alerts, as pure functions of the daily stats: each answers a
Finding (the value, the threshold it crossed, the sentence) or None.

`days` are the daily stats of the last 35 local days ending today, oldest first;
`Unsaid` counts the publications not said within the thresholds' window.
"""

from dataclasses import dataclass

from services.metrics.alerts.models import Thresholds
from services.metrics.rollups.models import DayStats

SILENT_GROUP = "silent_group"
SPEAKERS_DROP = "speakers_drop"
SHRINKING = "shrinking_group"
BROADCAST_ONLY = "broadcast_only"
NEGATIVE_SPIKE = "negative_spike"
PUBLICATION_FAILURES = "publication_failures"

GROUP_KINDS = (
    SILENT_GROUP,
    SPEAKERS_DROP,
    SHRINKING,
    BROADCAST_ONLY,
    NEGATIVE_SPIKE,
    PUBLICATION_FAILURES,
)
COMMUNITY_KINDS = (SHRINKING, NEGATIVE_SPIKE, PUBLICATION_FAILURES)
HISTORY_DAYS = 35


@dataclass(frozen=True)
class Finding:
    value: float
    threshold: float
    reason: str


def silent(days: list[DayStats], t: Thresholds, *, age_days: int) -> Finding | None:
    """No member message on the last `silent_days` days (a group younger than that is new,
    not silent)."""
    quiet = 0
    for day in reversed(days):
        if day.member_messages:
            break
        quiet += 1
    if quiet < t.silent_days or age_days < t.silent_days:
        return None
    return Finding(quiet, t.silent_days, f"no member has spoken for {quiet} days")


def speakers_drop(days: list[DayStats], t: Thresholds) -> Finding | None:
    """Speaker-days of the last 7 days against the weekly mean of the 28 days before."""
    recent = sum(d.speakers for d in days[-7:])
    baseline = sum(d.speakers for d in days[-35:-7]) / 4
    if baseline < max(t.speakers_drop_min_baseline, 1e-9):
        return None
    drop = (1 - recent / baseline) * 100
    if drop < t.speakers_drop_pct:
        return None
    return Finding(
        round(drop, 1),
        t.speakers_drop_pct,
        f"speakers down {round(drop)}% on the 4 weeks before ({recent} speaker-days in 7 days "
        f"against {baseline:g} a week)",
    )


def shrinking(days: list[DayStats], t: Thresholds) -> Finding | None:
    """Net loss over the last 7 days as a share of the members 7 days ago."""
    before = days[-8].members_total
    net = sum(d.net for d in days[-7:])
    if before <= 0 or net >= 0:
        return None
    loss = -net / before * 100
    if loss < t.shrinking_pct:
        return None
    return Finding(
        round(loss, 1),
        t.shrinking_pct,
        f"{-net} members lost in 7 days ({loss:.1f}% of {before})",
    )


def broadcast_only(days: list[DayStats], t: Thresholds) -> Finding | None:
    """Days of the last 14 on which operators spoke and no member did."""
    recent = days[-14:]
    only = sum(1 for d in recent if d.operator_messages and not d.member_messages)
    if only < t.broadcast_only_days:
        return None
    return Finding(
        only, t.broadcast_only_days, f"only operators spoke in {only} of the last 14 days"
    )


def negative_spike(days: list[DayStats], t: Thresholds) -> Finding | None:
    """Complaint messages today against the daily mean of the 28 days before."""
    today = days[-1].negative_messages
    mean = sum(d.negative_messages for d in days[-29:-1]) / 28
    threshold = max(t.negative_spike_min, t.negative_spike_factor * mean)
    if today < threshold:
        return None
    return Finding(
        today,
        round(threshold, 2),
        f"{today} complaint messages today against {mean:.1f} a day before",
    )


@dataclass(frozen=True)
class Unsaid:
    failed: int = 0  # the bot reported it could not post
    expired: int = 0  # no result came from the bot in time


def publication_failures(unsaid: Unsaid, t: Thresholds) -> Finding | None:
    """Publications not said within the last `publication_failure_hours`."""
    count = unsaid.failed + unsaid.expired
    if count < t.publication_failures_min:
        return None
    return Finding(
        count,
        t.publication_failures_min,
        f"{count} publications not said in the last {t.publication_failure_hours} hours "
        f"({unsaid.failed} failed, {unsaid.expired} with no result from the bot in time)",
    )


def findings(
    days: list[DayStats],
    t: Thresholds,
    *,
    group: bool,
    age_days: int,
    unsaid: Unsaid = Unsaid(),
) -> dict[str, Finding | None]:
    """Every condition for a group (or the few that apply to a whole community)."""
    if not group:
        return {
            SHRINKING: shrinking(days, t),
            NEGATIVE_SPIKE: negative_spike(days, t),
            PUBLICATION_FAILURES: publication_failures(unsaid, t),
        }
    return {
        SILENT_GROUP: silent(days, t, age_days=age_days),
        SPEAKERS_DROP: speakers_drop(days, t),
        SHRINKING: shrinking(days, t),
        BROADCAST_ONLY: broadcast_only(days, t),
        NEGATIVE_SPIKE: negative_spike(days, t),
        PUBLICATION_FAILURES: publication_failures(unsaid, t),
    }
