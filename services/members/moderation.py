"""Moderation (防广告, rule 9): ad and abuse rules, violation cases, the strike ladder.

Every violation is a case holding its evidence and the action taken. The ladder step is
chosen by the member's active strikes before it: undismissed cases younger than the expiry.
Actions change the member's status through `states.apply_move` (so they are recorded and
announced like an operator's), and every case is announced as `violation_recorded` for the
bots to act on in the group. One message makes at most one case, however often delivered.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlmodel import Field, Session, SQLModel, col, select

from services.common.cloudevents import CloudEvent
from services.common.consumer import Handler
from services.common.contracts import ChatMessagePosted
from services.common.contracts.moderation import ModerationCaseDismissed, ViolationRecorded
from services.common.db import SessionDep
from services.common.http.identity import ActorDep, WorkspaceDep
from services.common.http.pagination import Page, PageParams, page_params, paginate
from services.common.http.problems import not_found
from services.common.ids import new_id
from services.members import merge, states
from services.members.activity import as_utc, lock_member
from services.members.groups import Group
from services.members.models import (
    Community,
    Member,
    MembersTable,
    MemberStatus,
    Role,
    now,
    timestamp_column,
)
from services.members.moderation_rules import (
    Match,
    active_strikes,
    effective_action,
    excerpt,
    ladder_step,
    violations,
)
from services.members.senders import sender_of
from services.members.service import emit, get_community, identities_of

router = APIRouter(prefix="/v1", tags=["moderation"])
ACTOR = "system:moderation"


class ModerationCase(MembersTable, table=True):
    __tablename__ = "moderation_case"
    __table_args__ = (
        sa.UniqueConstraint("group_id", "message_external_id", name="uq_moderation_case_message"),
        sa.Index("ix_moderation_case_member_time", "member_id", "occurred_at"),
        sa.Index("ix_moderation_case_community", "community_id", "id"),
    )

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    member_id: str
    group_id: str
    message_external_id: str
    event_id: str
    excerpt: str
    matches: list[dict[str, str]] = Field(sa_column=sa.Column(JSONB, nullable=False))
    strikes_before: int = Field(description="Active strikes before this one.")
    ladder_step: int = Field(description="0-based step of the ladder it chose.")
    action: str = Field(description="warn, mute, remove or ban: what was done.")
    mute_until: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    status: str = "counted"  # counted, dismissed
    occurred_at: datetime = Field(sa_column=timestamp_column())
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())
    dismissed_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    dismissed_by: str | None = None
    dismiss_reason: str | None = None


class MatchPublic(SQLModel):
    kind: str
    match: str


class CasePublic(SQLModel):
    id: str
    member_id: str
    group_id: str
    message_external_id: str
    excerpt: str
    matches: list[MatchPublic]
    strikes_before: int
    ladder_step: int
    action: str
    mute_until: datetime | None
    status: str
    occurred_at: datetime
    created_at: datetime
    dismissed_at: datetime | None
    dismissed_by: str | None
    dismiss_reason: str | None


def _public(case: ModerationCase) -> CasePublic:
    return CasePublic.model_validate(case, from_attributes=True)


# ---- acting on a message -----------------------------------------------------------------


def strikes_before(*, session: Session, member: Member, at: datetime, expiry_days: int) -> int:
    """The member's active strikes at `at`: counted cases younger than the expiry."""
    times = session.exec(
        select(ModerationCase.occurred_at).where(
            ModerationCase.member_id == member.id,
            ModerationCase.status == "counted",
            col(ModerationCase.occurred_at) > at - timedelta(days=expiry_days),
        )
    ).all()
    return active_strikes(times, at=at, expiry_days=expiry_days)


def _enforce(*, session: Session, member: Member, action: str, hours: int | None, why: str) -> Any:
    """Take the action on the member's status; the mute's end, if it is a mute."""
    if action == "mute":
        assert hours is not None  # the settings require hours on every mute step
        until = now() + timedelta(hours=hours)
        if member.muted_until is not None and member.muted_until > until:
            until = member.muted_until  # a milder step never shortens a running mute
        states.apply_move(
            session=session,
            member=member,
            move=states.Move.mute,
            actor=ACTOR,
            reason=why,
            until=until,
        )
        return until
    move = {"remove": states.Move.remove, "ban": states.Move.ban}.get(action)
    already = {"remove": MemberStatus.removed, "ban": MemberStatus.banned}.get(action)
    if move is not None and member.status != already:
        states.apply_move(session=session, member=member, move=move, actor=ACTOR, reason=why)
    return None


def record_violation(
    *,
    session: Session,
    community: Community,
    group: Group,
    member: Member,
    data: ChatMessagePosted,
    found: list[Match],
    event_id: str,
) -> ModerationCase | None:
    """Open a case for a violating message and climb the ladder; None if the message
    already has its case."""
    policy = community.rules().moderation
    at = as_utc(data.occurred_at)
    prior = strikes_before(
        session=session, member=member, at=at, expiry_days=policy.strike_expiry_days
    )
    index, step = ladder_step(policy.ladder, prior)
    action = effective_action(step.action, member.status)
    case_id = session.execute(
        insert(ModerationCase.__table__)  # type: ignore[attr-defined]
        .values(
            id=new_id("case"),
            workspace_id=member.workspace_id,
            community_id=member.community_id,
            member_id=member.id,
            group_id=group.id,
            message_external_id=data.message_external_id,
            event_id=event_id,
            excerpt=excerpt(data.text, found, policy.excerpt_chars),
            matches=[{"kind": m.kind, "match": m.match} for m in found],
            strikes_before=prior,
            ladder_step=index,
            action=action,
            status="counted",
            occurred_at=at,
            created_at=now(),
        )
        .on_conflict_do_nothing()
        .returning(sa.column("id"))
    ).scalar_one_or_none()
    if case_id is None:
        return None
    case = session.get_one(ModerationCase, case_id)
    kinds: list[str] = list(dict.fromkeys(m.kind for m in found))
    case.mute_until = _enforce(
        session=session,
        member=member,
        action=action,
        hours=step.mute_hours,
        why=f"moderation case {case.id}: {', '.join(kinds)}",
    )
    session.add(case)
    emit(
        session,
        ViolationRecorded(
            case_id=case.id,
            member_id=member.id,
            community_id=member.community_id,
            group_id=group.id,
            platform=group.platform,
            group_external_id=group.external_id,
            message_external_id=data.message_external_id,
            identities=identities_of(session=session, member_id=member.id),
            kinds=kinds,
            action=action,
            mute_until=case.mute_until,
            active_strikes=prior + 1,
            occurred_at=at,
            recorded_at=case.created_at,
        ),
        member=member,
        community_id=member.community_id,
        workspace_id=member.workspace_id,
    )
    return case


def on_message_posted(session: Session, event: CloudEvent) -> None:
    """Check a message against the community's policy (after activity has counted it)."""
    data = ChatMessagePosted.model_validate(event.data)
    resolved = sender_of(session, event, data)
    if resolved is None:
        return
    group, member = resolved
    community = get_community(
        session=session, workspace_id=member.workspace_id, community_id=member.community_id
    )
    found = violations(
        text=data.text,
        flags=data.flags,
        policy=community.rules().moderation,
        role=member.role,
        at=as_utc(data.occurred_at),
        timezone=community.timezone,
    )
    if found:
        record_violation(
            session=session,
            community=community,
            group=group,
            member=lock_member(session, member),
            data=data,
            found=found,
            event_id=event.id,
        )


HANDLERS: dict[str, Handler] = {ChatMessagePosted.type: on_message_posted}


@merge.merge_step
def _merge_cases(session: Session, survivor: Member, merged: Member) -> None:
    """A person's strikes follow them into the survivor: merging is no way to a clean slate."""
    session.execute(
        sa.update(ModerationCase.__table__)  # type: ignore[attr-defined]
        .where(col(ModerationCase.member_id) == merged.id)
        .values(member_id=survivor.id)
    )


# ---- routes ------------------------------------------------------------------------------

Paging = Annotated[PageParams, Depends(page_params)]


def _case(session: Session, workspace_id: str, community_id: str, case_id: str) -> ModerationCase:
    get_community(session=session, workspace_id=workspace_id, community_id=community_id)
    case = session.exec(
        select(ModerationCase).where(
            ModerationCase.id == case_id,
            ModerationCase.community_id == community_id,
            ModerationCase.workspace_id == workspace_id,
        )
    ).one_or_none()
    if case is None:
        raise not_found("moderation case", case_id)
    return case


@router.get("/communities/{community_id}/moderation/cases", response_model=Page[CasePublic])
def list_cases(
    community_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    paging: Paging,
    member_id: str | None = None,
    status: str | None = None,
) -> Page[CasePublic]:
    """Violation cases, oldest first; filter by member or status (counted, dismissed)."""
    get_community(session=session, workspace_id=workspace_id, community_id=community_id)
    query = select(ModerationCase).where(
        ModerationCase.workspace_id == workspace_id, ModerationCase.community_id == community_id
    )
    if member_id:
        query = query.where(ModerationCase.member_id == member_id)
    if status:
        query = query.where(ModerationCase.status == status)
    rows, cursor = paginate(session, query, col(ModerationCase.id), paging)
    return Page(data=[_public(c) for c in rows], next_cursor=cursor)


@router.get("/communities/{community_id}/moderation/cases/{case_id}", response_model=CasePublic)
def get_case(
    community_id: str, case_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> CasePublic:
    return _public(_case(session, workspace_id, community_id, case_id))


class DismissIn(SQLModel):
    reason: str | None = Field(default=None, max_length=500)


@router.post(
    "/communities/{community_id}/moderation/cases/{case_id}/dismiss", response_model=CasePublic
)
def dismiss_case(
    community_id: str,
    case_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    actor: ActorDep,
    body: DismissIn | None = None,
) -> CasePublic:
    """The case was a mistake: its strike no longer counts toward the ladder. What was done
    stays done (unmute or unban the member if that is wanted). Dismissing twice is a no-op."""
    case = _case(session, workspace_id, community_id, case_id)
    case = session.exec(
        select(ModerationCase).where(ModerationCase.id == case.id).with_for_update()
    ).one()
    if case.status != "dismissed":
        case.status = "dismissed"
        case.dismissed_at = now()
        case.dismissed_by = actor
        case.dismiss_reason = (body or DismissIn()).reason
        session.add(case)
        member = session.get_one(Member, case.member_id)
        emit(
            session,
            ModerationCaseDismissed(
                case_id=case.id,
                member_id=case.member_id,
                community_id=case.community_id,
                actor=actor,
                reason=case.dismiss_reason,
                dismissed_at=case.dismissed_at,
            ),
            member=member,
            community_id=case.community_id,
            workspace_id=workspace_id,
        )
        session.commit()
    return _public(case)


class CheckIn(SQLModel):
    text: str = Field(default="", max_length=20_000)
    flags: list[str] = Field(default_factory=list, max_length=20)
    role: Role = Role.member
    at: datetime | None = Field(default=None, description="Defaults to now (ad windows).")


class CheckOut(SQLModel):
    violation: bool
    matches: list[MatchPublic]


@router.post("/communities/{community_id}/moderation/check", response_model=CheckOut)
def check_message(
    community_id: str, body: CheckIn, session: SessionDep, workspace_id: WorkspaceDep
) -> CheckOut:
    """A dry run of the community's policy on a message: what would be a violation, changing
    nothing. For operators tuning keywords and ad windows."""
    community = get_community(session=session, workspace_id=workspace_id, community_id=community_id)
    found = violations(
        text=body.text,
        flags=body.flags,
        policy=community.rules().moderation,
        role=body.role,
        at=(body.at or now())
        if (body.at is None or body.at.tzinfo)
        else body.at.replace(tzinfo=UTC),
        timezone=community.timezone,
    )
    return CheckOut(
        violation=bool(found), matches=[MatchPublic(kind=m.kind, match=m.match) for m in found]
    )
