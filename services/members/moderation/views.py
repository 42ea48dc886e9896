"""Moderation: the cases violations open, dismissing a mistaken one, and trying the policy."""

from datetime import UTC

from fastapi import APIRouter
from sqlmodel import col

from services.common.clock import now
from services.common.db import SessionDep
from services.common.http.identity import ActorDep
from services.common.http.pagination import Page, Paging, paginate
from services.members.deps import CommunityDep
from services.members.moderation import service
from services.members.moderation.detection import violations
from services.members.moderation.models import (
    CasePublic,
    CheckIn,
    CheckOut,
    DismissIn,
    MatchPublic,
    ModerationCase,
)

router = APIRouter(prefix="/v1/communities/{community_id}", tags=["moderation"])


def _public(case: ModerationCase) -> CasePublic:
    return CasePublic.model_validate(case, from_attributes=True)


@router.get("/moderation/cases", response_model=Page[CasePublic])
def list_cases(
    community: CommunityDep,
    session: SessionDep,
    paging: Paging,
    member_id: str | None = None,
    status: str | None = None,
) -> Page[CasePublic]:
    """Violation cases, oldest first; filter by member or status (counted, dismissed)."""
    query = service.cases_query(community=community, member_id=member_id, status=status)
    rows, cursor = paginate(session, query, col(ModerationCase.id), paging)
    return Page(data=[_public(c) for c in rows], next_cursor=cursor)


@router.get("/moderation/cases/{case_id}", response_model=CasePublic)
def get_case(community: CommunityDep, case_id: str, session: SessionDep) -> CasePublic:
    return _public(service.get_case(session=session, community=community, case_id=case_id))


@router.post("/moderation/cases/{case_id}/dismiss", response_model=CasePublic)
def dismiss_case(
    community: CommunityDep,
    case_id: str,
    session: SessionDep,
    actor: ActorDep,
    body: DismissIn | None = None,
) -> CasePublic:
    """The case was a mistake: its strike no longer counts toward the ladder. What was done
    stays done (unmute or unban the member if that is wanted). Dismissing twice is a no-op."""
    case = service.get_case(session=session, community=community, case_id=case_id)
    case = service.get_case(session=session, community=community, case_id=case.id, for_update=True)
    service.dismiss(session=session, case=case, actor=actor, reason=(body or DismissIn()).reason)
    session.commit()
    return _public(case)


@router.post("/moderation/check", response_model=CheckOut)
def check_message(community: CommunityDep, body: CheckIn) -> CheckOut:
    """A dry run of the community's policy on a message: what would be a violation, changing
    nothing. For operators tuning keywords and ad windows."""
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
