"""The content service: content and its review, schedules, SOP playbooks, publishing through
bots with acknowledgement, submissions.

Every router, event handler and periodic job of the service is named here. Where several
sub-domains hear one event type, they run in the order listed, in one transaction: the
replica first, so the others read what the event just changed.
"""

import functools
from pathlib import Path

from fastapi import FastAPI
from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.consumer import Handler
from services.common.contracts import (
    ActivityPlanned,
    CommunityCreated,
    CommunityUpdated,
    GroupCreated,
    GroupDissolved,
    GroupMemberJoined,
    GroupMemberLeft,
    GroupUpdated,
    MemberJoined,
    MemberStatusChanged,
    PublicationResultReported,
    SubmissionReceived,
    topics,
)
from services.common.periodic import PeriodicJob
from services.common.runtime import ServiceSpec, create_service_app
from services.content.calendar import views as calendar_views
from services.content.library import views as library_views
from services.content.playbooks import handlers as playbooks
from services.content.playbooks import sending
from services.content.playbooks import views as playbook_views
from services.content.publishing import dispatch, results
from services.content.publishing import views as publishing_views
from services.content.replica import handlers as replica
from services.content.schedules import views as schedule_views
from services.content.settings import ContentSettings
from services.content.submissions import service as submissions
from services.content.submissions import views as submission_views


def _in_order(*handlers: Handler) -> Handler:
    def handle(session: Session, event: CloudEvent) -> None:
        for handler in handlers:
            handler(session, event)

    return handle


HANDLERS: dict[str, Handler] = {
    CommunityCreated.type: replica.on_community,
    CommunityUpdated.type: replica.on_community,
    GroupCreated.type: _in_order(replica.on_group, playbooks.on_group_created),
    GroupUpdated.type: replica.on_group,
    GroupDissolved.type: _in_order(replica.on_group_dissolved, playbooks.on_group_dissolved),
    MemberJoined.type: _in_order(replica.on_member_joined, playbooks.on_member_joined),
    MemberStatusChanged.type: playbooks.on_member_status_changed,
    GroupMemberJoined.type: playbooks.on_group_member_joined,
    GroupMemberLeft.type: playbooks.on_group_member_left,
    PublicationResultReported.type: results.on_result_reported,
    SubmissionReceived.type: submissions.on_submission_received,
    ActivityPlanned.type: replica.on_activity_planned,
}


def build_spec(settings: ContentSettings) -> ServiceSpec:
    """The service as it runs with `settings` (its periodic jobs read them)."""
    return ServiceSpec(
        name="content",
        version="0.2.0",
        routers=[
            library_views.router,
            schedule_views.router,
            publishing_views.router,
            playbook_views.router,
            submission_views.router,
            calendar_views.router,
        ],
        migrations_dir=Path(__file__).parent / "migrations",
        produces=[topics.CONTENT],
        handlers=HANDLERS,
        periodic=[
            PeriodicJob(
                "content-dispatch-due",
                settings.dispatch_every_seconds,
                functools.partial(dispatch.dispatch_due, settings=settings),
            ),
            PeriodicJob(
                "content-send-playbook-steps",
                settings.dispatch_every_seconds,
                functools.partial(sending.send_due_steps, settings=settings),
            ),
            PeriodicJob(
                "content-expire-publications",
                30,
                functools.partial(results.expire_overdue, settings=settings),
            ),
        ],
        description="Content and its review, schedules, SOP playbooks, publishing through "
        "bots, submissions.",
    )


SPEC = build_spec(ContentSettings())


def create_app(settings: ContentSettings | None = None) -> FastAPI:
    settings = settings or ContentSettings()
    return create_service_app(build_spec(settings), settings)
