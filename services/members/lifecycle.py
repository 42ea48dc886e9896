"""The member lifecycle (社群链条): aware → joined → communicating → favourable → active →
paying → feedback → referring. Observed events advance a member; operators may override."""

from datetime import datetime

from sqlmodel import Field, Session, col, select

from services.common.contracts import MemberStageChanged
from services.common.ids import new_id
from services.members.models import Member, MembersTable, Stage, now, timestamp_column
from services.members.service import emit

ORDER = list(Stage)


class StageChange(MembersTable, table=True):
    __tablename__ = "member_stage_change"

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    member_id: str = Field(index=True)
    from_stage: Stage
    to_stage: Stage
    reason: str
    actor: str
    at: datetime = Field(default_factory=now, sa_column=timestamp_column())


def _change(
    session: Session, member: Member, to_stage: Stage, reason: str, actor: str
) -> StageChange:
    change = StageChange(
        id=new_id("stg"),
        workspace_id=member.workspace_id,
        community_id=member.community_id,
        member_id=member.id,
        from_stage=member.stage,
        to_stage=to_stage,
        reason=reason,
        actor=actor,
    )
    member.stage = to_stage
    session.add_all([member, change])
    emit(
        session,
        MemberStageChanged(
            member_id=member.id,
            community_id=member.community_id,
            from_stage=change.from_stage,
            to_stage=to_stage,
            reason=reason,
            actor=actor,
            changed_at=change.at,
        ),
        member=member,
        community_id=member.community_id,
        workspace_id=member.workspace_id,
    )
    return change


def advance(
    *, session: Session, member: Member, to_stage: Stage, reason: str, actor: str = "system"
) -> bool:
    """Move a member forward to `to_stage`; never backwards. Returns whether it moved."""
    if ORDER.index(to_stage) <= ORDER.index(member.stage):
        return False
    _change(session, member, to_stage, reason, actor)
    return True


def override(
    *, session: Session, member: Member, to_stage: Stage, reason: str, actor: str
) -> StageChange:
    """An operator sets the stage, either way, with a reason."""
    return _change(session, member, to_stage, reason, actor)


def stage_history(*, session: Session, member: Member) -> list[StageChange]:
    return list(
        session.exec(
            select(StageChange)
            .where(StageChange.member_id == member.id)
            .order_by(col(StageChange.at), col(StageChange.id))
        )
    )
