"""The content service: content and its review, schedules, publishing through bots with
acknowledgement, submissions.

Every router, event handler and periodic job of the service is named here.
"""

import functools
from pathlib import Path

from fastapi import FastAPI

from services.common.contracts import (
    CommunityCreated,
    CommunityUpdated,
    GroupCreated,
    GroupDissolved,
    GroupUpdated,
    MemberJoined,
    PublicationResultReported,
    SubmissionReceived,
    topics,
)
from services.common.periodic import PeriodicJob
from services.common.runtime import ServiceSpec, create_service_app
from services.content.library import views as library_views
from services.content.publishing import dispatch, results
from services.content.publishing import views as publishing_views
from services.content.replica import handlers as replica
from services.content.schedules import views as schedule_views
from services.content.settings import ContentSettings
from services.content.submissions import service as submissions
from services.content.submissions import views as submission_views


def build_spec(settings: ContentSettings) -> ServiceSpec:
    """The service as it runs with `settings` (its periodic jobs read them)."""
    return ServiceSpec(
        name="content",
        version="0.2.0",
        routers=[
            library_views.router,
            schedule_views.router,
            publishing_views.router,
            submission_views.router,
        ],
        migrations_dir=Path(__file__).parent / "migrations",
        produces=[topics.CONTENT],
        handlers={
            CommunityCreated.type: replica.on_community_created,
            CommunityUpdated.type: replica.on_community_updated,
            GroupCreated.type: replica.on_group_created,
            GroupUpdated.type: replica.on_group_updated,
            MemberJoined.type: replica.on_member_joined,
            GroupDissolved.type: replica.on_group_dissolved,
            PublicationResultReported.type: results.on_result_reported,
            SubmissionReceived.type: submissions.on_submission_received,
        },
        periodic=[
            PeriodicJob(
                "content-dispatch-due",
                settings.dispatch_every_seconds,
                functools.partial(dispatch.dispatch_due, settings=settings),
            ),
            PeriodicJob(
                "content-expire-publications",
                30,
                functools.partial(results.expire_overdue, settings=settings),
            ),
        ],
        description="Content and its review, schedules, publishing through bots, submissions.",
    )


SPEC = build_spec(ContentSettings())


def create_app(settings: ContentSettings | None = None) -> FastAPI:
    settings = settings or ContentSettings()
    return create_service_app(build_spec(settings), settings)
