"""Outreach (私有化, DOMAIN.md rule 14): every member added as a personal contact of an operator
account, never more than the account's daily cap of friend requests.

Operators queue members per account; the bot driving an account pulls its next batch, which
is cut to what is left of today's cap (today in the community's timezone), then reports each
request's outcome. The account row is locked while a batch is cut, so concurrent pulls
(two bot workers, a retry) never issue more than the cap between them.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.common import clock
from services.common.clock import now
from services.common.http.problems import not_found
from services.common.ids import new_id
from services.members import problems
from services.members.community import members
from services.members.community.models import Community, Member
from services.members.outreach.models import (
    AccountIn,
    AccountPublic,
    Batch,
    IssuedTask,
    OutreachAccount,
    OutreachTask,
    TaskPublic,
    TasksQueued,
    TaskStatus,
)
from services.members.vocabulary import MemberStatus


def cap_of(account: OutreachAccount, community: Community) -> int:
    """Friend requests the account may send a day: its own cap, else the community's."""
    return account.daily_cap or community.rules().outreach.daily_friend_request_cap


def used_on_local_day(
    *, session: Session, account: OutreachAccount, community: Community, at: datetime
) -> int:
    """Requests the account issued on the local day containing `at`."""
    day = clock.day_bounds(clock.local_day(at, community.timezone), community.timezone)
    return session.exec(
        select(sa.func.count()).where(
            OutreachTask.account_id == account.id,
            col(OutreachTask.issued_at) >= day.start,
            col(OutreachTask.issued_at) < day.end,
        )
    ).one()


def queue(
    *, session: Session, community: Community, account: OutreachAccount, member_ids: list[str]
) -> TasksQueued:
    """Queue a friend request per member, once per account and member."""
    wanted = list(dict.fromkeys(member_ids))
    known = set(
        session.exec(
            select(Member.id).where(
                Member.workspace_id == community.workspace_id,
                Member.community_id == community.id,
                col(Member.id).in_(wanted),
                col(Member.status).not_in([MemberStatus.banned, MemberStatus.merged]),
            )
        ).all()
    )
    if unknown := [m for m in wanted if m not in known]:
        raise problems.UnknownMembers(member_ids=unknown)
    # The queue is sent in id order; ids made in one millisecond are not ordered, so sorted
    # ones are handed out in the order the members were given.
    task_ids = sorted(new_id("otk") for _ in wanted)
    created = session.execute(
        insert(OutreachTask.__table__)  # type: ignore[attr-defined]
        .values(
            [
                {
                    "id": task_id,
                    "workspace_id": community.workspace_id,
                    "community_id": community.id,
                    "account_id": account.id,
                    "member_id": member_id,
                    "status": TaskStatus.queued.value,
                    "created_at": now(),
                }
                for task_id, member_id in zip(task_ids, wanted, strict=True)
            ]
        )
        .on_conflict_do_nothing()
        .returning(sa.column("id"))
    ).scalars()
    tasks = session.exec(
        select(OutreachTask)
        .where(col(OutreachTask.id).in_(list(created)))
        .order_by(col(OutreachTask.id))
    ).all()
    fresh = {t.member_id for t in tasks}
    return TasksQueued(
        queued=[TaskPublic.model_validate(t, from_attributes=True) for t in tasks],
        already_queued=[m for m in wanted if m not in fresh],
    )


def next_batch(
    *, session: Session, community: Community, account_id: str, size: int | None, at: datetime
) -> Batch:
    """Issue the next queued requests, never more than what is left of today's cap."""
    account = session.exec(
        select(OutreachAccount)
        .where(OutreachAccount.id == account_id, OutreachAccount.community_id == community.id)
        .with_for_update()
    ).one_or_none()
    if account is None:
        raise not_found("outreach account", account_id)
    cap = cap_of(account, community)
    used = used_on_local_day(session=session, account=account, community=community, at=at)
    room = max(0, cap - used)
    wanted = room if size is None else min(size, room)
    issued: list[IssuedTask] = []
    while len(issued) < wanted:
        rows = session.exec(
            select(OutreachTask, Member)
            .join(Member, col(Member.id) == OutreachTask.member_id)
            .where(OutreachTask.account_id == account.id, OutreachTask.status == TaskStatus.queued)
            .order_by(col(OutreachTask.id))
            .limit(wanted - len(issued))
        ).all()
        if not rows:
            break
        for task, member in rows:
            if member.status in (MemberStatus.banned, MemberStatus.merged):
                task.status = TaskStatus.cancelled
            else:
                task.status, task.issued_at = TaskStatus.issued, at
                issued.append(
                    IssuedTask(
                        **TaskPublic.model_validate(task, from_attributes=True).model_dump(),
                        display_name=member.display_name,
                        identities=members.identities_of(session=session, member_id=member.id),
                    )
                )
            session.add(task)
        session.flush()
    return Batch(tasks=issued, used_today=used + len(issued), remaining_today=room - len(issued))


def record_result(*, session: Session, task: OutreachTask, outcome: str, at: datetime) -> None:
    """The outcome of an issued request; reporting the same outcome again is harmless."""
    if task.status == outcome:
        return
    if task.status != TaskStatus.issued:
        refused = (
            problems.TaskNotIssued
            if task.status == TaskStatus.queued
            else problems.OutcomeAlreadyRecorded
        )
        raise refused(current_status=task.status.value)
    task.status, task.outcome_at = TaskStatus(outcome), at
    session.add(task)


def merge_tasks(session: Session, *, survivor: Member, merged: Member) -> None:
    """The merged record's tasks move over unless the account already has one for the survivor."""
    session.execute(
        sa.text(
            "DELETE FROM outreach_task t WHERE t.member_id = :merged AND EXISTS ("
            "SELECT 1 FROM outreach_task s WHERE s.member_id = :survivor "
            "AND s.account_id = t.account_id)"
        ),
        {"merged": merged.id, "survivor": survivor.id},
    )
    session.execute(
        sa.text("UPDATE outreach_task SET member_id = :survivor WHERE member_id = :merged"),
        {"merged": merged.id, "survivor": survivor.id},
    )


def create_account(
    *, session: Session, community: Community, account_in: AccountIn
) -> OutreachAccount:
    """Register an operator's personal account that sends friend requests."""
    account = OutreachAccount(
        id=new_id("oac"),
        workspace_id=community.workspace_id,
        community_id=community.id,
        **account_in.model_dump(),
    )
    try:
        with session.begin_nested():
            session.add(account)
            session.flush()
    except IntegrityError as exc:
        raise problems.AccountExists(
            platform=account_in.platform.value, external_id=account_in.external_id
        ) from exc
    return account


def accounts_query(*, community: Community) -> Any:
    """The community's outreach accounts."""
    return select(OutreachAccount).where(OutreachAccount.community_id == community.id)


def task_for_result(*, session: Session, community: Community, task_id: str) -> OutreachTask:
    """The community's task, locked to record its outcome, or the 404 problem."""
    task = session.exec(
        select(OutreachTask)
        .where(OutreachTask.id == task_id, OutreachTask.community_id == community.id)
        .with_for_update()
    ).one_or_none()
    if task is None:
        raise not_found("outreach task", task_id)
    return task


def get_account(*, session: Session, community: Community, account_id: str) -> OutreachAccount:
    """The community's account, or the 404 problem."""
    account = session.exec(
        select(OutreachAccount).where(
            OutreachAccount.id == account_id, OutreachAccount.community_id == community.id
        )
    ).one_or_none()
    if account is None:
        raise not_found("outreach account", account_id)
    return account


def account_public(
    *, session: Session, community: Community, account: OutreachAccount
) -> AccountPublic:
    """The account with its cap, what it used today and what is queued."""
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
