"""Member states and the moves between them: approve, reject, mute, unmute, remove, ban, unban.

Every move is recorded with its actor and reason and announced as
`io.qunyun.member.status_changed.v1`; bots act on those events in the groups.
"""

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from services.common.clock import now
from services.common.http.problems import field_problem
from services.members import problems
from services.members.community.members import announce_admission, record_transition
from services.members.community.models import Member, MemberRecord, MemberTransition, Move
from services.members.vocabulary import MemberStatus, Stage

S = MemberStatus


# move → (statuses it applies to, status it leads to)
MOVES: dict[Move, tuple[frozenset[MemberStatus], MemberStatus]] = {
    Move.approve: (frozenset({S.pending}), S.active),
    Move.reject: (frozenset({S.pending}), S.removed),
    Move.mute: (frozenset({S.active, S.muted}), S.muted),
    Move.unmute: (frozenset({S.muted}), S.active),
    Move.remove: (frozenset({S.pending, S.active, S.muted}), S.removed),
    Move.ban: (frozenset({S.pending, S.active, S.muted, S.removed}), S.banned),
    Move.unban: (frozenset({S.banned}), S.removed),
}


def apply_move(
    *,
    session: Session,
    member: Member,
    move: Move,
    actor: str,
    reason: str | None,
    until: datetime | None = None,
) -> MemberTransition:
    """Move a member to another state, or a 409 problem saying why it cannot."""
    to_status = check_move(member, move, until)
    if move == Move.approve and member.stage == Stage.aware:
        member.stage = Stage.joined
    transition = record_transition(
        session=session, member=member, to_status=to_status, actor=actor, reason=reason, until=until
    )
    if move == Move.approve:
        member.joined_at = now()
        session.flush()
        announce_admission(session=session, member=member)
    return transition


def check_move(member: MemberRecord, move: Move, until: datetime | None = None) -> MemberStatus:
    """The status `move` leads `member` to, or a 409 problem saying why it cannot."""
    allowed_from, to_status = MOVES[move]
    if member.status not in allowed_from:
        raise problems.InvalidTransition(
            current_status=member.status.value,
            move=move.value,
            allowed=", ".join(sorted(allowed_from)),
        )
    if move == Move.mute and (until is None or until <= now()):
        raise field_problem("until", "`until` must be in the future.")
    return to_status


def expire_mutes(session: Session, at: datetime) -> int:
    """Unmute everyone whose mute has run out (a periodic job)."""
    expired = session.exec(
        select(Member)
        .where(Member.status == MemberStatus.muted, col(Member.muted_until) <= at)
        .order_by(col(Member.muted_until))
        .limit(500)
        .with_for_update(skip_locked=True)
    ).all()
    for member in expired:
        record_transition(
            session=session,
            member=member,
            to_status=MemberStatus.active,
            actor="system",
            reason="mute expired",
        )
    return len(expired)


def history_query(*, member: Member) -> Any:
    """Every change of the member's status; page it oldest first by (`at`, `id`)."""
    return select(MemberTransition).where(
        MemberTransition.member_id == member.id,
        MemberTransition.workspace_id == member.workspace_id,
    )
