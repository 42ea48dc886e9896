"""Events the metrics service publishes: alerts an operator should act on, and the weekly
report of each community. The outbound webhooks carry them to operators' tools."""

from datetime import date, datetime

from services.common.contracts import topics
from services.common.contracts.base import EventData


class AlertOpened(EventData):
    """A condition worth an operator's attention began (a silent, shrinking or broadcast-only
    group, a spike of complaints). Announced once; `alert_resolved` follows once it is over.
    `group_id` is None for an alert about the whole community."""

    type = "io.qunyun.metrics.alert_opened.v1"
    topic = topics.METRICS

    alert_id: str
    community_id: str
    group_id: str | None
    kind: str  # silent_group, speakers_drop, shrinking_group, broadcast_only, negative_spike
    reason: str  # the sentence an operator reads
    value: float
    threshold: float
    opened_at: datetime


class AlertResolved(EventData):
    """The condition of an open alert has been over for long enough not to flap."""

    type = "io.qunyun.metrics.alert_resolved.v1"
    topic = topics.METRICS

    alert_id: str
    community_id: str
    group_id: str | None
    kind: str
    reason: str
    opened_at: datetime
    resolved_at: datetime


class WeeklyReportPublished(EventData):
    """A community's report of the local week Monday–Sunday, published Monday 09:00 in its
    timezone. The whole report is at `path` (JSON, or Markdown with `.md`)."""

    type = "io.qunyun.metrics.weekly_report_published.v1"
    topic = topics.METRICS

    report_id: str
    community_id: str
    week_start: date
    week_end: date
    members_total: int
    joined: int
    left: int
    messages: int
    speakers: int
    health_score: int | None
    path: str
    published_at: datetime
