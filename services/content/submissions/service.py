"""Submissions: received (API or bot), reviewed, accepted into the library crediting the
author (members awards the points on `submission_accepted`) or rejected with a reason the bot
tells the author (`submission_rejected`)."""

import logging
from typing import Any

from sqlalchemy import Select
from sqlmodel import Session, select

from services.common import outbox
from services.common.cloudevents import CloudEvent
from services.common.contracts import SubmissionAccepted, SubmissionReceived, SubmissionRejected
from services.common.ids import new_id
from services.content import problems
from services.content.library import service as library
from services.content.library.models import ContentCreate, ContentStatus, Media
from services.content.replica import service as replica
from services.content.replica.models import Community
from services.content.submissions.models import (
    Acceptance,
    Rejection,
    Submission,
    SubmissionCreate,
    SubmissionStatus,
)
from services.content.tables import now

SOURCE = "/qunyun/content"
log = logging.getLogger(__name__)


def submit(
    session: Session, *, community: Community, submission_in: SubmissionCreate
) -> Submission:
    """A submission from the API, waiting for review."""
    submission = Submission(
        id=new_id("sub"),
        workspace_id=community.workspace_id,
        community_id=community.id,
        member_id=submission_in.member_id,
        title=submission_in.title,
        body=submission_in.body,
        media=[m.model_dump(mode="json") for m in submission_in.media],
        source="api",
    )
    session.add(submission)
    session.flush()
    return submission


def on_submission_received(session: Session, event: CloudEvent) -> None:
    """A bot's submission: its community from the group (or as named), its author from the
    identities members told us of."""
    data = SubmissionReceived.model_validate(event.data)
    community_id = data.community_id
    if community_id is None and data.group_external_id is not None:
        group = replica.group_by_external_id(
            session,
            workspace_id=event.workspaceid,
            platform=data.platform,
            external_id=data.group_external_id,
        )
        community_id = group.community_id if group else None
    community = session.get(Community, community_id) if community_id is not None else None
    if community is None or community.workspace_id != event.workspaceid:
        log.warning("a submission from an unknown group or community was dropped")
        return
    member_id = replica.member_of(
        session,
        workspace_id=event.workspaceid,
        community_id=community.id,
        platform=data.platform,
        external_id=data.sender_external_id,
    )
    session.add(
        Submission(
            id=new_id("sub"),
            workspace_id=community.workspace_id,
            community_id=community.id,
            member_id=member_id,
            platform=data.platform,
            sender_external_id=data.sender_external_id,
            sender_display_name=data.sender_display_name,
            title=data.title,
            body=data.text,
            media=[{"url": url, "type": "image"} for url in data.media_urls],
            source="bot",
            created_at=data.occurred_at,
        )
    )


def get_submission(
    session: Session, *, workspace_id: str, submission_id: str, for_update: bool = False
) -> Submission:
    query = select(Submission).where(
        Submission.id == submission_id, Submission.workspace_id == workspace_id
    )
    if for_update:
        query = query.with_for_update()
    submission = session.exec(query).one_or_none()
    if submission is None:
        raise problems.submission_not_found(submission_id)
    return submission


def review_queue(*, community: Community, status: SubmissionStatus | None) -> Select[Any]:
    query = select(Submission).where(
        Submission.workspace_id == community.workspace_id,
        Submission.community_id == community.id,
    )
    if status is not None:
        query = query.where(Submission.status == status)
    return query


def accept(session: Session, *, submission: Submission, acceptance: Acceptance, actor: str) -> None:
    """Turn the submission into an approved content item crediting its author."""
    if submission.status != SubmissionStatus.pending:
        raise problems.ContentStateConflict(
            what="submission", state=submission.status, action="accepted"
        )
    member_id = submission.member_id or acceptance.member_id
    if member_id is None:
        raise problems.SubmissionAuthorUnknown(submission_id=submission.id)
    community = replica.get_community(
        session, workspace_id=submission.workspace_id, community_id=submission.community_id
    )
    item = library.create_item(
        session,
        community=community,
        item_in=ContentCreate(
            kind=acceptance.kind,
            value_dimension=acceptance.value_dimension,
            title=acceptance.title or submission.title or submission.body[:40],
            body=submission.body,
            media=[Media.model_validate(m) for m in submission.media],
            author=submission.sender_display_name or member_id,
        ),
        actor=actor,
        author_member_id=member_id,
        submission_id=submission.id,
        status=ContentStatus.approved,
    )
    submission.status, submission.member_id = SubmissionStatus.accepted, member_id
    submission.reviewer, submission.reviewed_at = actor, now()
    submission.content_item_id = item.id
    session.add(submission)
    outbox.emit(
        session,
        SubmissionAccepted(
            submission_id=submission.id,
            member_id=member_id,
            community_id=submission.community_id,
            accepted_at=submission.reviewed_at,
        ),
        source=SOURCE,
        workspace_id=submission.workspace_id,
        community_id=submission.community_id,
        subject=member_id,
    )


def reject(session: Session, *, submission: Submission, rejection: Rejection, actor: str) -> None:
    """Turn the submission down with a reason the author is told."""
    if not rejection.reason.strip():
        raise problems.RejectionReasonRequired(submission_id=submission.id)
    if submission.status != SubmissionStatus.pending:
        raise problems.ContentStateConflict(
            what="submission", state=submission.status, action="rejected"
        )
    submission.status, submission.reason = SubmissionStatus.rejected, rejection.reason.strip()
    submission.reviewer, submission.reviewed_at = actor, now()
    session.add(submission)
    outbox.emit(
        session,
        SubmissionRejected(
            submission_id=submission.id,
            member_id=submission.member_id,
            community_id=submission.community_id,
            platform=submission.platform,
            sender_external_id=submission.sender_external_id,
            reason=submission.reason,
            rejected_at=submission.reviewed_at,
        ),
        source=SOURCE,
        workspace_id=submission.workspace_id,
        community_id=submission.community_id,
        subject=submission.member_id,
    )
