"""The lifecycle (社群链条): stages set by hand and their history, the funnel, purchases."""

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from sqlmodel import col

from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import ActorDep
from services.common.http.pagination import Page, Paging, paginate
from services.members import problems
from services.members.community import members
from services.members.deps import CommunityDep, MemberDep, located
from services.members.lifecycle.funnel import community_funnel
from services.members.lifecycle.models import (
    Funnel,
    Purchase,
    PurchaseIn,
    PurchasePublic,
    StageChange,
    StageChangePublic,
    StageIn,
)
from services.members.lifecycle.purchases import purchases_query, record_purchase
from services.members.lifecycle.service import advance, override, stage_history_query
from services.members.vocabulary import Stage

router = APIRouter(prefix="/v1/communities/{community_id}", tags=["lifecycle"])


def _public(change: StageChange) -> StageChangePublic:
    return StageChangePublic.model_validate(change, from_attributes=True)


@router.post(
    "/members/{member_id}/stage",
    status_code=status.HTTP_201_CREATED,
    response_model=StageChangePublic,
    responses={409: {"description": "Already in that stage, or merged."}},
)
def override_stage(
    community: CommunityDep,
    member_id: str,
    body: StageIn,
    session: SessionDep,
    actor: ActorDep,
    once: OnceDep,
) -> JSONResponse:
    """Set a member's stage by hand, forwards or back, with a reason; recorded and announced."""

    def create() -> tuple[int, StageChangePublic]:
        member = members.member_to_change(session=session, community=community, member_id=member_id)
        if member.stage == body.stage:
            raise problems.StageUnchanged(stage=body.stage.value)
        change = override(
            session=session, member=member, to_stage=body.stage, reason=body.reason, actor=actor
        )
        return 201, _public(change)

    # A change is read in the member's stage history.
    return located(
        once.run(body, create), f"/v1/communities/{community.id}/members/{member_id}/stages"
    )


@router.get(
    "/members/{member_id}/stages",
    response_model=Page[StageChangePublic],
)
def member_stages(
    member: MemberDep, session: SessionDep, paging: Paging
) -> Page[StageChangePublic]:
    """Every change of the member's stage, oldest first, with its reason and actor."""
    rows, cursor = paginate(
        session,
        stage_history_query(member=member),
        (col(StageChange.at), col(StageChange.id)),
        paging,
    )
    return Page(data=[_public(c) for c in rows], next_cursor=cursor)


@router.get("/lifecycle/funnel", response_model=Funnel)
def funnel(community: CommunityDep, session: SessionDep) -> Funnel:
    """Current members (active, muted, pending) by stage: the headline funnel (rule 3).
    `reached` counts a stage and all after it; `conversion` is the share of the previous
    stage's `reached` that got this far."""
    return community_funnel(
        session=session, workspace_id=community.workspace_id, community_id=community.id
    )


@router.post(
    "/members/{member_id}/purchases",
    status_code=status.HTTP_201_CREATED,
    response_model=PurchasePublic,
    responses={409: {"description": "The reference is already recorded, or merged."}},
)
def create_purchase(
    community: CommunityDep,
    member_id: str,
    body: PurchaseIn,
    session: SessionDep,
    actor: ActorDep,
    once: OnceDep,
) -> JSONResponse:
    """Record a purchase; the member becomes `paying` unless already further along."""

    def create() -> tuple[int, PurchasePublic]:
        member = members.member_to_change(session=session, community=community, member_id=member_id)
        purchase = record_purchase(session=session, member=member, purchase_in=body, actor=actor)
        advance(
            session=session,
            member=member,
            to_stage=Stage.paying,
            reason=f"purchase {purchase.reference}",
        )
        return 201, PurchasePublic.model_validate(purchase, from_attributes=True)

    return located(
        once.run(body, create), f"/v1/communities/{community.id}/members/{member_id}/purchases"
    )


@router.get(
    "/members/{member_id}/purchases",
    response_model=Page[PurchasePublic],
)
def list_purchases(member: MemberDep, session: SessionDep, paging: Paging) -> Page[PurchasePublic]:
    rows, cursor = paginate(session, purchases_query(member=member), col(Purchase.id), paging)
    return Page(
        data=[PurchasePublic.model_validate(p, from_attributes=True) for p in rows],
        next_cursor=cursor,
    )
