"""The metrics service: everything measured, from its own read models fed by Kafka.

Every router, event handler and periodic job of the service is named here, in one place.
Chat messages are folded set-based (`rollups/messages.py`); until the kit's consumer hands
over whole polled batches, each arrives as a batch of one through its per-event handler.
"""

from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI

from services.common.consumer import Handler
from services.common.contracts import topics
from services.common.periodic import PeriodicJob
from services.common.runtime import ServiceSpec, create_service_app
from services.metrics.alerts import service as alerts
from services.metrics.alerts import views as alert_views
from services.metrics.content_response import handlers as content_response
from services.metrics.content_response import views as content_response_views
from services.metrics.contributors import views as contributors
from services.metrics.exports import views as exports
from services.metrics.funnel import views as funnel
from services.metrics.health import service as health
from services.metrics.health import views as health_views
from services.metrics.referrals import handlers as referrals
from services.metrics.referrals import views as referral_views
from services.metrics.replica import handlers as replica
from services.metrics.reports import service as reports
from services.metrics.reports import views as report_views
from services.metrics.retention import views as retention
from services.metrics.rollups import handlers as rollups
from services.metrics.rollups import views as daily

ROUTERS = [
    daily.router,
    retention.router,
    funnel.router,
    health_views.router,
    alert_views.router,
    referral_views.router,
    contributors.router,
    content_response_views.router,
    report_views.router,
    exports.router,
]


def _one_handler_each(*tables: Mapping[str, Handler]) -> dict[str, Handler]:
    """The handlers of every package; an event type two packages claim is a wiring mistake."""
    gathered: dict[str, Handler] = {}
    for table in tables:
        for event_type, handler in table.items():
            if event_type in gathered:
                raise RuntimeError(f"{event_type} is handled twice")
            gathered[event_type] = handler
    return gathered


HANDLERS = _one_handler_each(
    replica.HANDLERS, rollups.HANDLERS, referrals.HANDLERS, content_response.HANDLERS
)

JOBS = [
    PeriodicJob("metrics-health-scores", 900, health.refresh_scores),
    PeriodicJob("metrics-alerts", 600, alerts.evaluate_alerts),
    PeriodicJob("metrics-weekly-reports", 300, reports.publish_due_reports),
]

SPEC = ServiceSpec(
    name="metrics",
    version="0.2.0",
    routers=ROUTERS,
    migrations_dir=Path(__file__).parent / "migrations",
    produces=[topics.METRICS],
    handlers=HANDLERS,
    periodic=JOBS,
    description="Daily stats, time series, retention, funnel, health scores with reasons, "
    "alerts and weekly reports of communities and their groups, from events. Definitions of "
    "every metric: docs/metrics.md.",
)


def create_app() -> FastAPI:
    return create_service_app(SPEC)
