"""The metrics service: everything measured, from its own read models fed by Kafka.

Everything the service runs is named here, once: its routers, the handler of each event
type it consumes and its periodic jobs. Nothing registers itself by being imported.

Chat messages are folded set-based (`rollups/messages.py`), a whole polled batch in one
transaction through the kit's batch mode (`BATCH_HANDLERS`); the per-event handler serves a
batch the consumer has split down to one message.
"""

import functools
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.common.batch_folds import BatchFold, BatchHandler
from services.common.consumer import Handler
from services.common.contracts import (
    AttendanceRecorded,
    ChatMessagePosted,
    CheckInRecorded,
    CommunityCreated,
    CommunityUpdated,
    GroupCreated,
    GroupDissolved,
    GroupMemberJoined,
    GroupMemberLeft,
    GroupUpdated,
    MemberJoined,
    MembersMerged,
    MemberStageChanged,
    MemberStatusChanged,
    PublicationExpired,
    PublicationFailed,
    PublicationPublished,
    PublicationPublishedV2,
    ReferralFailed,
    ReferralSucceeded,
    ViolationRecorded,
    topics,
)
from services.common.periodic import PeriodicJob
from services.common.runtime import ServiceSpec, create_service_app
from services.metrics.alerts import handlers as alert_handlers
from services.metrics.alerts import service as alerts
from services.metrics.alerts import views as alert_views
from services.metrics.content_response import handlers as content_response
from services.metrics.content_response import views as content_response_views
from services.metrics.contributors import views as contributor_views
from services.metrics.exports import views as export_views
from services.metrics.funnel import views as funnel_views
from services.metrics.health import service as health
from services.metrics.health import views as health_views
from services.metrics.referrals import handlers as referrals
from services.metrics.referrals import views as referral_views
from services.metrics.replica import handlers as replica
from services.metrics.reports import service as reports
from services.metrics.reports import views as report_views
from services.metrics.retention import views as retention_views
from services.metrics.rollups import handlers as rollups
from services.metrics.rollups import replay
from services.metrics.rollups import views as daily_views
from services.metrics.settings import MetricsSettings

ROUTERS = (
    daily_views.router,
    retention_views.router,
    funnel_views.router,
    health_views.router,
    alert_views.router,
    referral_views.router,
    contributor_views.router,
    content_response_views.router,
    report_views.router,
    export_views.router,
)

HANDLERS: dict[str, Handler] = {
    # replicas: communities, groups, members (and bots' joins and leaves of groups)
    CommunityCreated.type: replica.on_community,
    CommunityUpdated.type: replica.on_community,
    GroupCreated.type: replica.on_group,
    GroupUpdated.type: replica.on_group,
    GroupDissolved.type: replica.on_group_dissolved,
    MemberJoined.type: replica.on_member_joined,
    MemberStatusChanged.type: replica.on_member_status_changed,
    MembersMerged.type: replica.on_members_merged,
    MemberStageChanged.type: replica.on_member_stage_changed,
    GroupMemberJoined.type: replica.on_group_member_joined,
    GroupMemberLeft.type: replica.on_group_member_left,
    # daily rollups
    ChatMessagePosted.type: rollups.on_message_posted,
    ViolationRecorded.type: rollups.on_violation_recorded,
    CheckInRecorded.type: rollups.on_check_in_recorded,
    AttendanceRecorded.type: rollups.on_attendance_recorded,
    # referrals
    ReferralSucceeded.type: referrals.on_referral_succeeded,
    ReferralFailed.type: referrals.on_referral_failed,
    # content response
    PublicationPublished.type: content_response.on_publication_published,  # before v2
    PublicationPublishedV2.type: content_response.on_publication_published,
    # publications not said, for the publication-failure alert
    PublicationFailed.type: alert_handlers.on_publication_failed,
    PublicationExpired.type: alert_handlers.on_publication_expired,
}

SETTINGS = MetricsSettings()

JOBS = (
    PeriodicJob("metrics-health-scores", 900, health.refresh_scores),
    PeriodicJob("metrics-alerts", 600, alerts.evaluate_alerts),
    PeriodicJob("metrics-weekly-reports", 300, reports.publish_due_reports),
    # Chat and activity parked for a group or community nobody registered: forgotten after
    # the retention, so they cannot pile up (docs/metrics.md, "Events before their group").
    PeriodicJob(
        "metrics-parked-expiry",
        3600,
        functools.partial(
            replay.expire_parked, retention=timedelta(days=SETTINGS.parked_retention_days)
        ),
    ),
)

# Event types folded a batch at a time, one transaction per polled batch.
BATCH_HANDLERS: dict[str, BatchHandler | BatchFold[Any]] = {
    ChatMessagePosted.type: rollups.MESSAGE_FOLD,
}

SPEC = ServiceSpec(
    name="metrics",
    version="0.2.0",
    routers=ROUTERS,
    migrations_dir=Path(__file__).parent / "migrations",
    produces=[topics.METRICS],
    handlers=HANDLERS,
    batch_handlers=BATCH_HANDLERS,
    # Chat folds into rows per speaker and day: the more messages a batch holds, the more of
    # them share a row (`python -m bench metrics_fold`, one after the other on a quiet machine:
    # 500: 20,400/s, Postgres 30.9 µs a message; 1,000: 22,800/s, 26.0 µs; 2,000: 29,200/s,
    # 22.1 µs), and a batch of 2,000 still commits in about 0.1 s.
    batch_max_events=2000,
    periodic=JOBS,
    description="Daily stats, time series, retention, funnel, health scores with reasons, "
    "alerts and weekly reports of communities and their groups, from events. Definitions of "
    "every metric: docs/metrics.md.",
)


def create_app() -> FastAPI:
    return create_service_app(SPEC)
