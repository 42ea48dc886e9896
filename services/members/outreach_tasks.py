"""Friend-request tasks and the daily cap (DOMAIN.md rule 14), without HTTP.

A task is issued when handed to the bot driving the account; issued tasks count against the
day's cap, the day being the community's local day. `next_batch` locks the account row, so
concurrent pulls for one account take turns and never issue more than the cap between them.
"""

from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Field, Session, col, select

from services.common.contracts import PlatformIdentity
from services.common.http.problems import Problem, not_found
from services.common.ids import new_id
from services.members import merge, service
from services.members.models import (
    Community,
    Member,
    MembersTable,
    MemberStatus,
    Platform,
    now,
    timestamp_column,
)


class TaskStatus(StrEnum):
    queued = "queued"
    issued = "issued"  # handed to the bot; counts against the day's cap
    accepted = "accepted"
    declined = "declined"
    failed = "failed"
    cancelled = "cancelled"  # the member was banned or merged before the request went out


class OutreachAccount(MembersTable, table=True):
    __tablename__ = "outreach_account"
    __table_args__ = (
        sa.UniqueConstraint(
            "community_id", "platform", "external_id", name="uq_outreach_account_identity"
        ),
    )

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(foreign_key="community.id")
    name: str
    platform: Platform
    external_id: str
    daily_cap: int | None = None
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class OutreachTask(MembersTable, table=True):
    __tablename__ = "outreach_task"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "member_id", name="uq_outreach_task_member"),
    )

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    account_id: str = Field(foreign_key="outreach_account.id")
    member_id: str = Field(foreign_key="member.id")
    status: TaskStatus = TaskStatus.queued
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())
    issued_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    outcome_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class TaskPublic(BaseModel):
    id: str
    account_id: str
    member_id: str
    status: TaskStatus
    created_at: datetime
    issued_at: datetime | None
    outcome_at: datetime | None


class IssuedTask(TaskPublic):
    display_name: str
    identities: list[PlatformIdentity] = Field(description="Whom to send the request to.")


class TasksQueued(BaseModel):
    queued: list[TaskPublic]
    already_queued: list[str] = Field(description="Members this account already had a task for.")


class Batch(BaseModel):
    tasks: list[IssuedTask]
    used_today: int
    remaining_today: int


def cap_of(account: OutreachAccount, community: Community) -> int:
    return account.daily_cap or community.rules().outreach.daily_friend_request_cap


def used_on_local_day(
    *, session: Session, account: OutreachAccount, community: Community, at: datetime
) -> int:
    """Requests the account issued on the local day containing `at`."""
    zone = ZoneInfo(community.timezone)
    day = at.astimezone(zone).date()
    start = datetime.combine(day, time.min, zone)
    end = datetime.combine(day + timedelta(days=1), time.min, zone)
    return session.exec(
        select(sa.func.count()).where(
            OutreachTask.account_id == account.id,
            col(OutreachTask.issued_at) >= start,
            col(OutreachTask.issued_at) < end,
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
        raise Problem(
            422,
            "unknown-members",
            "The request is not valid",
            "Some members are not in this community, or are banned or merged.",
            errors=[{"field": "member_ids", "in": "body", "message": m} for m in unknown],
            member_ids=unknown,
        )
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
                        identities=service.identities_of(session=session, member_id=member.id),
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
        raise Problem(
            409,
            "task-not-issued" if task.status == TaskStatus.queued else "outcome-already-recorded",
            "Outcome not possible",
            f"This task is {task.status.value}; only an issued request takes an outcome, once.",
            current_status=task.status.value,
        )
    task.status, task.outcome_at = TaskStatus(outcome), at
    session.add(task)


@merge.merge_step
def _merge_tasks(session: Session, survivor: Member, merged: Member) -> None:
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
