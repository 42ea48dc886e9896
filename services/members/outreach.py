"""Outreach (私有化, DOMAIN.md rule 14): every member added as a personal contact of an operator
account, never more than the account's daily cap of friend requests.

Operators queue members per account; the bot driving an account pulls its next batch, which
is cut to what is left of today's cap (today in the community's timezone), then reports each
request's outcome. The account row is locked while a batch is cut, so concurrent pulls
(two bot workers, a retry) never issue more than the cap between them.
"""

from datetime import datetime
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, col, select

from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import WorkspaceDep
from services.common.http.pagination import Page, PageParams, page_params, paginate
from services.common.http.problems import Problem, not_found
from services.common.ids import new_id
from services.members import service
from services.members.models import Community, Platform, now
from services.members.outreach_tasks import (
    Batch,
    OutreachAccount,
    OutreachTask,
    TaskPublic,
    TasksQueued,
    TaskStatus,
    cap_of,
    next_batch,
    queue,
    record_result,
    used_on_local_day,
)

router = APIRouter(prefix="/v1", tags=["outreach"])
Paging = Annotated[PageParams, Depends(page_params)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    platform: Platform
    external_id: ExternalId
    daily_cap: int | None = Field(
        default=None, ge=1, le=500, description="Default: the community's outreach setting."
    )


class AccountPublic(BaseModel):
    id: str
    name: str
    platform: Platform
    external_id: str
    daily_cap: int = Field(description="In force today: the account's own or the community's.")
    used_today: int
    remaining_today: int
    queued: int
    created_at: datetime


class TasksIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: str
    member_ids: list[str] = Field(min_length=1, max_length=500)


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int | None = Field(default=None, ge=1, le=500, description="Default: all that's left.")


class ResultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["accepted", "declined", "failed"]


# ---- routes -------------------------------------------------------------------------------


def _community(session: Session, workspace_id: str, community_id: str) -> Community:
    return service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id
    )


def _account(session: Session, community: Community, account_id: str) -> OutreachAccount:
    account = session.exec(
        select(OutreachAccount).where(
            OutreachAccount.id == account_id, OutreachAccount.community_id == community.id
        )
    ).one_or_none()
    if account is None:
        raise not_found("outreach account", account_id)
    return account


def _account_public(
    session: Session, community: Community, account: OutreachAccount
) -> AccountPublic:
    cap = cap_of(account, community)
    used = used_on_local_day(session=session, account=account, community=community, at=now())
    queued = session.exec(
        select(sa.func.count()).where(
            OutreachTask.account_id == account.id, OutreachTask.status == TaskStatus.queued
        )
    ).one()
    return AccountPublic(
        **account.model_dump(exclude={"daily_cap"}),
        daily_cap=cap,
        used_today=used,
        remaining_today=max(0, cap - used),
        queued=queued,
    )


@router.post(
    "/communities/{community_id}/outreach/accounts",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountPublic,
    responses={409: {"description": "The account is registered already."}},
)
def create_account(
    community_id: str,
    body: AccountIn,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    once: OnceDep,
) -> JSONResponse:
    """Register an operator's personal account that sends friend requests."""

    def create() -> tuple[int, AccountPublic]:
        community = _community(session, workspace_id, community_id)
        account = OutreachAccount(
            id=new_id("oac"),
            workspace_id=workspace_id,
            community_id=community.id,
            **body.model_dump(),
        )
        try:
            with session.begin_nested():
                session.add(account)
                session.flush()
        except IntegrityError as exc:
            raise Problem(
                409,
                "account-exists",
                "Account exists",
                f"A {body.platform.value} account {body.external_id} is registered already.",
            ) from exc
        return 201, _account_public(session, community, account)

    return once.run(body, create)


@router.get("/communities/{community_id}/outreach/accounts", response_model=Page[AccountPublic])
def list_accounts(
    community_id: str, session: SessionDep, workspace_id: WorkspaceDep, paging: Paging
) -> Page[AccountPublic]:
    community = _community(session, workspace_id, community_id)
    rows, cursor = paginate(
        session,
        select(OutreachAccount).where(OutreachAccount.community_id == community.id),
        col(OutreachAccount.id),
        paging,
    )
    return Page(data=[_account_public(session, community, a) for a in rows], next_cursor=cursor)


@router.get(
    "/communities/{community_id}/outreach/accounts/{account_id}", response_model=AccountPublic
)
def get_account(
    community_id: str, account_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> AccountPublic:
    """The account with today's used and remaining requests (today in the community's zone)."""
    community = _community(session, workspace_id, community_id)
    return _account_public(session, community, _account(session, community, account_id))


@router.post("/communities/{community_id}/outreach/tasks", response_model=TasksQueued)
def queue_tasks(
    community_id: str, body: TasksIn, session: SessionDep, workspace_id: WorkspaceDep
) -> TasksQueued:
    """Queue friend requests from an account to members; a member already queued for that
    account is listed in `already_queued` and not queued twice."""
    community = _community(session, workspace_id, community_id)
    account = _account(session, community, body.account_id)
    result = queue(
        session=session, community=community, account=account, member_ids=body.member_ids
    )
    session.commit()
    return result


@router.post(
    "/communities/{community_id}/outreach/accounts/{account_id}/next-batch", response_model=Batch
)
def pull_next_batch(
    community_id: str,
    account_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    body: BatchIn | None = None,
) -> Batch:
    """The next requests to send, marked issued: at most `size`, and never more than what is
    left of the account's cap today. An empty batch means the cap or the queue is exhausted."""
    community = _community(session, workspace_id, community_id)
    batch = next_batch(
        session=session,
        community=community,
        account_id=account_id,
        size=(body or BatchIn()).size,
        at=now(),
    )
    session.commit()
    return batch


@router.post(
    "/communities/{community_id}/outreach/tasks/{task_id}/result",
    response_model=TaskPublic,
    responses={409: {"description": "Not issued yet, or another outcome was recorded."}},
)
def report_result(
    community_id: str, task_id: str, body: ResultIn, session: SessionDep, workspace_id: WorkspaceDep
) -> TaskPublic:
    """Whether the member accepted the friend request."""
    community = _community(session, workspace_id, community_id)
    task = session.exec(
        select(OutreachTask)
        .where(OutreachTask.id == task_id, OutreachTask.community_id == community.id)
        .with_for_update()
    ).one_or_none()
    if task is None:
        raise not_found("outreach task", task_id)
    record_result(session=session, task=task, outcome=body.outcome, at=now())
    session.commit()
    return TaskPublic.model_validate(task, from_attributes=True)
