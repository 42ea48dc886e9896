"""The member lifecycle (社群链条): aware → joined → communicating → favourable → active →
paying → feedback → referring. Observed events advance a member; operators may override.

Automatic moves only go forward, and straight to the furthest stage the evidence reaches: a
member who first speaks on their ninth active day goes from `joined` to `active` in one
recorded change (reason naming the rule), without passing through stages they never showed.
Stages behind the current one are never revisited, so a `paying` member who becomes active
stays `paying`. Only an operator's override moves a member back.
"""

import logging
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.responses import JSONResponse
from sqlmodel import Field, Session, SQLModel, col, func, select

from services.common.cloudevents import CloudEvent
from services.common.consumer import Handler
from services.common.contracts import ChatMessagePosted, FeedbackGiven, MemberStageChanged
from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import ActorDep, WorkspaceDep
from services.common.http.pagination import Page, PageParams, page_params, paginate
from services.common.http.problems import Problem
from services.common.ids import new_id
from services.members import merge
from services.members.activity import (
    IN_GOOD_STANDING,
    ActivityDay,
    ActivityMessage,
    as_utc,
    local_day,
)
from services.members.lifecycle_funnel import Funnel, community_funnel
from services.members.lifecycle_purchases import (
    Purchase,
    PurchaseIn,
    PurchasePublic,
    purchases_query,
    record_purchase,
)
from services.members.models import Member, MembersTable, MemberStatus, Stage, now, timestamp_column
from services.members.senders import sender_of
from services.members.service import emit, get_community, get_member

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["lifecycle"])

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


class StageChangePublic(SQLModel):
    id: str
    from_stage: Stage
    to_stage: Stage
    reason: str
    actor: str
    at: datetime


def _public(change: StageChange) -> StageChangePublic:
    return StageChangePublic.model_validate(change, from_attributes=True)


# ---- automatic rules ---------------------------------------------------------------------


def reached_by_activity(*, session: Session, member: Member, at: datetime) -> tuple[Stage, str]:
    """The furthest stage the member's chat activity reaches, and the rule that says so.
    `at` is the time of the latest message; the active window ends on its day."""
    community = get_community(
        session=session, workspace_id=member.workspace_id, community_id=member.community_id
    )
    rules = community.rules().lifecycle
    if ORDER.index(member.stage) < ORDER.index(Stage.active):
        first_day = local_day(at, community.timezone) - timedelta(days=rules.active_window_days - 1)
        days = session.exec(
            select(func.count()).where(
                ActivityDay.member_id == member.id, col(ActivityDay.day) >= first_day
            )
        ).one()
        if days >= rules.active_days:
            return Stage.active, (
                f"active on {days} days in the last {rules.active_window_days} days"
            )
    if member.joined_at is not None and ORDER.index(member.stage) < ORDER.index(Stage.favourable):
        window_end = member.joined_at + timedelta(days=rules.favourable_window_days)
        early = session.exec(
            select(func.count()).where(
                ActivityMessage.member_id == member.id,
                col(ActivityMessage.occurred_at) < window_end,
            )
        ).one()
        if early >= rules.favourable_messages_in_first_7_days:
            return Stage.favourable, (
                f"{early} messages in the first {rules.favourable_window_days} days"
            )
    if member.message_count > 0:
        return Stage.communicating, "first message"
    return member.stage, ""


def on_message_posted(session: Session, event: CloudEvent) -> None:
    """After activity has counted the message: advance by the activity rules."""
    data = ChatMessagePosted.model_validate(event.data)
    resolved = sender_of(session, event, data)
    if resolved is None or resolved[1].status not in IN_GOOD_STANDING:
        return
    member = resolved[1]
    if member.stage == Stage.aware:
        return  # a lead who has not joined: what they say does not make them a member
    stage, reason = reached_by_activity(session=session, member=member, at=as_utc(data.occurred_at))
    advance(session=session, member=member, to_stage=stage, reason=reason)


def _current(session: Session, workspace_id: str, member_id: str) -> Member | None:
    """The member, or the survivor it was merged into."""
    member = session.exec(
        select(Member).where(Member.id == member_id, Member.workspace_id == workspace_id)
    ).one_or_none()
    for _ in range(10):  # merges chain rarely, and never in a loop
        if member is None or member.merged_into is None:
            break
        member = session.get(Member, member.merged_into)
    return member


def on_feedback_given(session: Session, event: CloudEvent) -> None:
    data = FeedbackGiven.model_validate(event.data)
    member = _current(session, event.workspaceid, data.member_id)
    if (
        member is None
        or member.community_id != data.community_id
        or member.status not in IN_GOOD_STANDING
    ):
        log.info("feedback from an unknown or departed member", extra={"member": data.member_id})
        return
    about = f" on activity {data.activity_id}" if data.activity_id else ""
    advance(session=session, member=member, to_stage=Stage.feedback, reason=f"feedback{about}")


HANDLERS: dict[str, Handler] = {
    ChatMessagePosted.type: on_message_posted,
    FeedbackGiven.type: on_feedback_given,
}


@merge.merge_step
def _merge_stage(session: Session, survivor: Member, merged: Member) -> None:
    """The survivor keeps the further stage of the two; both histories stay as they were."""
    advance(
        session=session,
        member=survivor,
        to_stage=merged.stage,
        reason=f"merged with {merged.id}",
    )


# ---- routes ------------------------------------------------------------------------------


class StageIn(SQLModel):
    stage: Stage
    reason: str = Field(min_length=1, max_length=500, description="Why; kept in the history.")


def _member(session: Session, workspace_id: str, community_id: str, member_id: str) -> Member:
    member = get_member(
        session=session,
        workspace_id=workspace_id,
        community_id=community_id,
        member_id=member_id,
        for_update=True,
    )
    if member.status == MemberStatus.merged:
        raise Problem(
            409,
            "member-merged",
            "Member merged",
            f"{member.id} was merged into {member.merged_into}; use that member.",
            merged_into=member.merged_into,
        )
    return member


@router.post(
    "/communities/{community_id}/members/{member_id}/stage",
    status_code=status.HTTP_201_CREATED,
    response_model=StageChangePublic,
    responses={409: {"description": "Already in that stage, or merged."}},
)
def override_stage(
    community_id: str,
    member_id: str,
    body: StageIn,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    actor: ActorDep,
    once: OnceDep,
) -> JSONResponse:
    """Set a member's stage by hand, forwards or back, with a reason; recorded and announced."""

    def create() -> tuple[int, StageChangePublic]:
        member = _member(session, workspace_id, community_id, member_id)
        if member.stage == body.stage:
            raise Problem(
                409,
                "stage-unchanged",
                "Already in that stage",
                f"The member is already {body.stage.value}.",
            )
        change = override(
            session=session, member=member, to_stage=body.stage, reason=body.reason, actor=actor
        )
        return 201, _public(change)

    return once.run(body, create)


@router.get(
    "/communities/{community_id}/members/{member_id}/stages",
    response_model=list[StageChangePublic],
)
def member_stages(
    community_id: str, member_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> list[StageChangePublic]:
    """Every change of the member's stage, oldest first, with its reason and actor."""
    member = get_member(
        session=session, workspace_id=workspace_id, community_id=community_id, member_id=member_id
    )
    return [_public(c) for c in stage_history(session=session, member=member)]


@router.get("/communities/{community_id}/lifecycle/funnel", response_model=Funnel)
def funnel(community_id: str, session: SessionDep, workspace_id: WorkspaceDep) -> Funnel:
    """Current members (active, muted, pending) by stage: the headline funnel (rule 3).
    `reached` counts a stage and all after it; `conversion` is the share of the previous
    stage's `reached` that got this far."""
    get_community(session=session, workspace_id=workspace_id, community_id=community_id)
    return community_funnel(session=session, workspace_id=workspace_id, community_id=community_id)


@router.post(
    "/communities/{community_id}/members/{member_id}/purchases",
    status_code=status.HTTP_201_CREATED,
    response_model=PurchasePublic,
    responses={409: {"description": "The reference is already recorded, or merged."}},
)
def create_purchase(
    community_id: str,
    member_id: str,
    body: PurchaseIn,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    actor: ActorDep,
    once: OnceDep,
) -> JSONResponse:
    """Record a purchase; the member becomes `paying` unless already further along."""

    def create() -> tuple[int, PurchasePublic]:
        member = _member(session, workspace_id, community_id, member_id)
        purchase = record_purchase(session=session, member=member, purchase_in=body, actor=actor)
        advance(
            session=session,
            member=member,
            to_stage=Stage.paying,
            reason=f"purchase {purchase.reference}",
        )
        return 201, PurchasePublic.model_validate(purchase, from_attributes=True)

    return once.run(body, create)


@router.get(
    "/communities/{community_id}/members/{member_id}/purchases",
    response_model=Page[PurchasePublic],
)
def list_purchases(
    community_id: str,
    member_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    paging: Annotated[PageParams, Depends(page_params)],
) -> Page[PurchasePublic]:
    member = get_member(
        session=session, workspace_id=workspace_id, community_id=community_id, member_id=member_id
    )
    rows, cursor = paginate(session, purchases_query(member=member), col(Purchase.id), paging)
    return Page(
        data=[PurchasePublic.model_validate(p, from_attributes=True) for p in rows],
        next_cursor=cursor,
    )
