"""Metrics' own Prometheus series: the pipeline (what was folded, how fast) and business
gauges. Labels are bounded: event types, outcomes, alert kinds and community purposes, never
a member, group or community id."""

from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

from services.common.contracts import ChatMessagePosted

if TYPE_CHECKING:  # only a type: the fold (and parking under it) may import this module
    from services.metrics.rollups.messages import FoldResult

FOLDED = Counter(
    "qunyun_metrics_events_folded_total",
    "Chat messages taken by the rollup fold, by outcome (folded, duplicate, parked, rejected).",
    ["outcome"],
)
FOLD_BATCH_SIZE = Histogram(
    "qunyun_metrics_fold_batch_size",
    "Events per call of the rollup fold.",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
)
FOLD_SECONDS = Histogram(
    "qunyun_metrics_fold_batch_seconds",
    "Time one call of the rollup fold took, in the caller's transaction.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
CHAT_MESSAGE_TYPE = ChatMessagePosted.type
PARKED = Counter(
    "qunyun_metrics_parked_events_total",
    "Events about a group or community not known yet, by type and outcome: parked (waiting "
    "for it), replayed (folded when it arrived), expired (never arrived within the retention).",
    ["type", "outcome"],
)
PARKED_NOW = Gauge(
    "qunyun_metrics_parked_events_waiting",
    "Events waiting for their group or community now, by type (set by the expiry job).",
    ["type"],
)
UNMATCHED = Counter(
    "qunyun_metrics_unmatched_events_total",
    "Events about a community or group metrics has no replica of, by type.",
    ["type"],
)
ALERTS_OPEN = Gauge(
    "qunyun_metrics_alerts_open",
    "Alerts open now, by kind and community purpose.",
    ["kind", "purpose"],
)
GROUPS_BY_HEALTH = Gauge(
    "qunyun_metrics_groups_by_health",
    "Open groups by health band (healthy ≥ 70, watch 40–69, at_risk < 40).",
    ["band"],
)
REPORTS_PUBLISHED = Counter(
    "qunyun_metrics_weekly_reports_published_total", "Weekly community reports published."
)


def observe_fold(result: "FoldResult", seconds: float | None = None) -> None:
    FOLDED.labels("folded").inc(result.folded)
    FOLDED.labels("duplicate").inc(result.duplicates)
    FOLDED.labels("parked").inc(result.parked)
    if result.parked:
        PARKED.labels(CHAT_MESSAGE_TYPE, "parked").inc(result.parked)
    FOLDED.labels("rejected").inc(len(result.rejected))
    FOLD_BATCH_SIZE.observe(result.received)
    if seconds is not None:
        FOLD_SECONDS.observe(seconds)


PUBLICATIONS = Counter(
    "qunyun_metrics_publications_total", "Publications in groups recorded for content response."
)
