"""Submissions: send one, the review queue, accept, reject."""

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from sqlmodel import col

from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import ActorDep, WorkspaceDep
from services.common.http.pagination import Page, Paging, asc, paginate
from services.common.http.problems import problem_responses
from services.content.deps import CommunityDep
from services.content.problems import (
    ContentStateConflict,
    RejectionReasonRequired,
    SubmissionAuthorUnknown,
)
from services.content.submissions import service
from services.content.submissions.models import (
    Acceptance,
    Rejection,
    Submission,
    SubmissionCreate,
    SubmissionPublic,
    SubmissionStatus,
)

router = APIRouter(prefix="/v1", tags=["submissions"])


def _public(submission: Submission) -> SubmissionPublic:
    return SubmissionPublic.model_validate(submission, from_attributes=True)


@router.post(
    "/communities/{community_id}/submissions",
    status_code=status.HTTP_201_CREATED,
    response_model=SubmissionPublic,
)
def create_submission(
    body: SubmissionCreate, community: CommunityDep, session: SessionDep, once: OnceDep
) -> JSONResponse:
    """A member submits something for the community (bots push `submission` instead)."""

    def create() -> tuple[int, SubmissionPublic]:
        return 201, _public(service.submit(session, community=community, submission_in=body))

    return once.run(body, create)


@router.get("/communities/{community_id}/submissions", response_model=Page[SubmissionPublic])
def list_submissions(
    community: CommunityDep,
    session: SessionDep,
    paging: Paging,
    status: SubmissionStatus | None = SubmissionStatus.pending,
) -> Page[SubmissionPublic]:
    """The review queue, oldest first (pending ones unless `status` says otherwise)."""
    rows, cursor = paginate(
        session,
        service.review_queue(community=community, status=status),
        asc(col(Submission.id)),
        paging,
    )
    return Page(data=[_public(s) for s in rows], next_cursor=cursor)


@router.get("/submissions/{submission_id}", response_model=SubmissionPublic)
def get_submission(
    submission_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> SubmissionPublic:
    return _public(
        service.get_submission(session, workspace_id=workspace_id, submission_id=submission_id)
    )


@router.post(
    "/submissions/{submission_id}/accept",
    response_model=SubmissionPublic,
    responses=problem_responses(ContentStateConflict, SubmissionAuthorUnknown),
)
def accept_submission(
    submission_id: str,
    body: Acceptance,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    actor: ActorDep,
) -> SubmissionPublic:
    """Accept: an approved content item crediting the author; members awards the points."""
    submission = service.get_submission(
        session, workspace_id=workspace_id, submission_id=submission_id, for_update=True
    )
    service.accept(session, submission=submission, acceptance=body, actor=actor)
    session.commit()
    return _public(submission)


@router.post(
    "/submissions/{submission_id}/reject",
    response_model=SubmissionPublic,
    responses=problem_responses(ContentStateConflict, RejectionReasonRequired),
)
def reject_submission(
    submission_id: str,
    body: Rejection,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    actor: ActorDep,
) -> SubmissionPublic:
    """Reject with a reason; the bot tells the author (`submission_rejected`)."""
    submission = service.get_submission(
        session, workspace_id=workspace_id, submission_id=submission_id, for_update=True
    )
    service.reject(session, submission=submission, rejection=body, actor=actor)
    session.commit()
    return _public(submission)
