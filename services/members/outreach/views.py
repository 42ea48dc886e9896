"""Outreach (私有化): operator accounts, queued friend requests, batches under a daily cap."""

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from sqlmodel import col

from services.common.clock import now
from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.pagination import Page, Paging, paginate
from services.members.deps import CommunityDep, located
from services.members.outreach import service
from services.members.outreach.models import (
    AccountIn,
    AccountPublic,
    Batch,
    BatchIn,
    OutreachAccount,
    ResultIn,
    TaskPublic,
    TasksIn,
    TasksQueued,
)

router = APIRouter(prefix="/v1/communities/{community_id}", tags=["outreach"])


@router.post(
    "/outreach/accounts",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountPublic,
    responses={409: {"description": "The account is registered already."}},
)
def create_account(
    community: CommunityDep,
    body: AccountIn,
    session: SessionDep,
    once: OnceDep,
) -> JSONResponse:
    """Register an operator's personal account that sends friend requests."""

    def create() -> tuple[int, AccountPublic]:
        account = service.create_account(session=session, community=community, account_in=body)
        return 201, service.account_public(session=session, community=community, account=account)

    return located(
        once.run(body, create), f"/v1/communities/{community.id}/outreach/accounts/{{id}}"
    )


@router.get("/outreach/accounts", response_model=Page[AccountPublic])
def list_accounts(
    community: CommunityDep, session: SessionDep, paging: Paging
) -> Page[AccountPublic]:
    query = service.accounts_query(community=community)
    rows, cursor = paginate(session, query, col(OutreachAccount.id), paging)
    return Page(
        data=[
            service.account_public(session=session, community=community, account=a) for a in rows
        ],
        next_cursor=cursor,
    )


@router.get("/outreach/accounts/{account_id}", response_model=AccountPublic)
def get_account(community: CommunityDep, account_id: str, session: SessionDep) -> AccountPublic:
    """The account with today's used and remaining requests (today in the community's zone)."""
    account = service.get_account(session=session, community=community, account_id=account_id)
    return service.account_public(session=session, community=community, account=account)


@router.post("/outreach/tasks", response_model=TasksQueued)
def queue_tasks(community: CommunityDep, body: TasksIn, session: SessionDep) -> TasksQueued:
    """Queue friend requests from an account to members; a member already queued for that
    account is listed in `already_queued` and not queued twice."""
    account = service.get_account(session=session, community=community, account_id=body.account_id)
    result = service.queue(
        session=session, community=community, account=account, member_ids=body.member_ids
    )
    session.commit()
    return result


@router.post("/outreach/accounts/{account_id}/next-batch", response_model=Batch)
def pull_next_batch(
    community: CommunityDep,
    account_id: str,
    session: SessionDep,
    body: BatchIn | None = None,
) -> Batch:
    """The next requests to send, marked issued: at most `size`, and never more than what is
    left of the account's cap today. An empty batch means the cap or the queue is exhausted."""
    batch = service.next_batch(
        session=session,
        community=community,
        account_id=account_id,
        size=(body or BatchIn()).size,
        at=now(),
    )
    session.commit()
    return batch


@router.post(
    "/outreach/tasks/{task_id}/result",
    response_model=TaskPublic,
    responses={409: {"description": "Not issued yet, or another outcome was recorded."}},
)
def report_result(
    community: CommunityDep, task_id: str, body: ResultIn, session: SessionDep
) -> TaskPublic:
    """Whether the member accepted the friend request."""
    task = service.task_for_result(session=session, community=community, task_id=task_id)
    service.record_result(session=session, task=task, outcome=body.outcome, at=now())
    session.commit()
    return TaskPublic.model_validate(task, from_attributes=True)
