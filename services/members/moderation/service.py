"""Moderation (防广告, rule 9): ad and abuse rules, violation cases, the strike ladder.

Every violation is a case holding its evidence and the action taken. The ladder step is
chosen by the member's active strikes before it: undismissed cases younger than the expiry.
Actions change the member's status through `states.apply_move` (so they are recorded and
announced like an operator's), and every case is announced as `violation_recorded` for the
bots to act on in the group. One message makes at most one case, however often delivered.
"""

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from services.common.clock import now
from services.common.contracts import ChatMessagePosted
from services.common.contracts.moderation import ModerationCaseDismissed, ViolationRecorded
from services.common.http.problems import not_found
from services.common.ids import new_id
from services.members.activity.service import reported_time
from services.members.community import models, states
from services.members.community.members import identities_of
from services.members.community.models import Community, Member
from services.members.groups.models import Group
from services.members.moderation.detection import (
    Match,
    active_strikes,
    effective_action,
    excerpt,
    ladder_step,
)
from services.members.moderation.models import ModerationCase
from services.members.publishing import emit
from services.members.vocabulary import MemberStatus

ACTOR = "system:moderation"


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
            move=models.Move.mute,
            actor=ACTOR,
            reason=why,
            until=until,
        )
        return until
    move = {"remove": models.Move.remove, "ban": models.Move.ban}.get(action)
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
    at = reported_time(data.occurred_at)
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


def merge_cases(session: Session, *, survivor: Member, merged: Member) -> None:
    """A person's strikes follow them into the survivor: merging is no way to a clean slate."""
    session.execute(
        sa.update(ModerationCase.__table__)  # type: ignore[attr-defined]
        .where(col(ModerationCase.member_id) == merged.id)
        .values(member_id=survivor.id)
    )


def get_case(
    *, session: Session, community: Community, case_id: str, for_update: bool = False
) -> ModerationCase:
    """The community's case, or the 404 problem."""
    query = select(ModerationCase).where(
        ModerationCase.id == case_id,
        ModerationCase.community_id == community.id,
        ModerationCase.workspace_id == community.workspace_id,
    )
    case = session.exec(query.with_for_update() if for_update else query).one_or_none()
    if case is None:
        raise not_found("moderation case", case_id)
    return case


def cases_query(*, community: Community, member_id: str | None, status: str | None) -> Any:
    """The community's cases, narrowed by member and status if given."""
    query = select(ModerationCase).where(
        ModerationCase.workspace_id == community.workspace_id,
        ModerationCase.community_id == community.id,
    )
    if member_id:
        query = query.where(ModerationCase.member_id == member_id)
    if status:
        query = query.where(ModerationCase.status == status)
    return query


def dismiss(
    *, session: Session, case: ModerationCase, actor: str, reason: str | None
) -> ModerationCase:
    """The case was a mistake: its strike stops counting. Dismissing twice changes nothing."""
    if case.status == "dismissed":
        return case
    case.status = "dismissed"
    case.dismissed_at = now()
    case.dismissed_by = actor
    case.dismiss_reason = reason
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
        workspace_id=case.workspace_id,
    )
    return case
