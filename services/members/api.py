"""Communities and members: the core routes. Sub-domains have routers of their own."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import col

from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import ActorDep, WorkspaceDep
from services.common.http.pagination import Page, PageParams, page_params, paginate
from services.common.http.problems import problem_response
from services.members import service, states
from services.members.community_settings import CommunitySettings
from services.members.merge import merge_members
from services.members.models import (
    Community,
    CommunityCreate,
    CommunityPublic,
    CommunityUpdate,
    LeadCreate,
    Member,
    MemberCreate,
    MemberPublic,
    MemberStatus,
    MemberUpdate,
    Role,
    Stage,
    TransitionPublic,
)

router = APIRouter(prefix="/v1")
Paging = Annotated[PageParams, Depends(page_params)]


def _community_public(community: Community) -> CommunityPublic:
    return CommunityPublic.model_validate(community, from_attributes=True)


@router.post(
    "/communities",
    status_code=status.HTTP_201_CREATED,
    response_model=CommunityPublic,
    tags=["communities"],
)
def create_community(
    body: CommunityCreate,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    once: OnceDep,
) -> JSONResponse:
    """Create a community; its settings start from its purpose's defaults."""

    def create() -> tuple[int, CommunityPublic]:
        community = service.create_community(
            session=session, workspace_id=workspace_id, community_in=body
        )
        return 201, _community_public(community)

    return once.run(body, create)


@router.get("/communities", response_model=Page[CommunityPublic], tags=["communities"])
def list_communities(
    session: SessionDep, workspace_id: WorkspaceDep, paging: Paging
) -> Page[CommunityPublic]:
    rows, cursor = paginate(
        session,
        service.list_communities(session=session, workspace_id=workspace_id),
        col(Community.id),
        paging,
    )
    return Page(data=[_community_public(c) for c in rows], next_cursor=cursor)


@router.get("/communities/{community_id}", response_model=CommunityPublic, tags=["communities"])
def get_community(
    community_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> CommunityPublic:
    return _community_public(
        service.get_community(session=session, workspace_id=workspace_id, community_id=community_id)
    )


@router.patch("/communities/{community_id}", response_model=CommunityPublic, tags=["communities"])
def update_community(
    community_id: str, body: CommunityUpdate, session: SessionDep, workspace_id: WorkspaceDep
) -> CommunityPublic:
    community = service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id, for_update=True
    )
    service.update_community(session=session, community=community, update=body)
    session.commit()
    return _community_public(community)


@router.get(
    "/communities/{community_id}/settings", response_model=CommunitySettings, tags=["communities"]
)
def get_settings(
    community_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> CommunitySettings:
    """Entry, onboarding, capacities, points, levels, lifecycle, referrals, moderation,
    inactivity and outreach settings."""
    return service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id
    ).rules()


@router.patch(
    "/communities/{community_id}/settings", response_model=CommunitySettings, tags=["communities"]
)
def update_settings(
    community_id: str, body: dict[str, Any], session: SessionDep, workspace_id: WorkspaceDep
) -> CommunitySettings:
    """Change some settings: sections merge, lists and values are replaced."""
    community = service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id, for_update=True
    )
    result = service.update_settings(session=session, community=community, patch=body)
    session.commit()
    return result


# ---- members -----------------------------------------------------------------------------


def _member(
    session: SessionDep,
    workspace_id: str,
    community_id: str,
    member_id: str,
    for_update: bool = False,
) -> Member:
    return service.get_member(
        session=session,
        workspace_id=workspace_id,
        community_id=community_id,
        member_id=member_id,
        for_update=for_update,
    )


@router.post(
    "/communities/{community_id}/members",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberPublic,
    tags=["members"],
    responses={
        200: {
            "model": MemberPublic,
            "description": "A member already holds one of "
            "the identities; that member is returned and nothing changes.",
        },
        409: {"description": "The person is banned (`member-banned`)."},
    },
)
def join_member(
    community_id: str,
    body: MemberCreate,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    once: OnceDep,
) -> JSONResponse:
    """Admit someone through the community's entry threshold (open, approval, invite code,
    paid, questionnaire). Emits `member.joined`, or `member.applied` when approval is needed."""

    def create() -> tuple[int, MemberPublic]:
        member, changed = service.join_member(
            session=session, workspace_id=workspace_id, community_id=community_id, member_in=body
        )
        return (201 if changed else 200), service.member_public(session=session, member=member)

    return once.run(body, create)


@router.post(
    "/communities/{community_id}/leads",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberPublic,
    tags=["members"],
)
def create_lead(
    community_id: str,
    body: LeadCreate,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    once: OnceDep,
) -> JSONResponse:
    """Record a prospect in stage `aware` before they join; joining later keeps the same id."""

    def create() -> tuple[int, MemberPublic]:
        lead, created = service.create_lead(
            session=session, workspace_id=workspace_id, community_id=community_id, lead_in=body
        )
        return (201 if created else 200), service.member_public(session=session, member=lead)

    return once.run(body, create)


@router.get(
    "/communities/{community_id}/members", response_model=Page[MemberPublic], tags=["members"]
)
def list_members(
    community_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    paging: Paging,
    status: MemberStatus | None = None,
    role: Role | None = None,
    stage: Stage | None = None,
) -> Page[MemberPublic]:
    service.get_community(session=session, workspace_id=workspace_id, community_id=community_id)
    query = service.members_query(
        workspace_id=workspace_id, community_id=community_id, status=status, role=role, stage=stage
    )
    rows, cursor = paginate(session, query, col(Member.id), paging)
    return Page(
        data=[service.member_public(session=session, member=m) for m in rows], next_cursor=cursor
    )


@router.get(
    "/communities/{community_id}/members/{member_id}",
    response_model=MemberPublic,
    tags=["members"],
    responses={301: {"description": "Merged into another member (`Location`)."}},
)
def get_member(
    community_id: str, member_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> Any:
    member = _member(session, workspace_id, community_id, member_id)
    if member.merged_into:
        return problem_response(
            301,
            "member-merged",
            "Member merged",
            f"{member.id} was merged into {member.merged_into}.",
            headers={"Location": f"/v1/communities/{community_id}/members/{member.merged_into}"},
            merged_into=member.merged_into,
        )
    return service.member_public(session=session, member=member)


@router.patch(
    "/communities/{community_id}/members/{member_id}", response_model=MemberPublic, tags=["members"]
)
def update_member(
    community_id: str,
    member_id: str,
    body: MemberUpdate,
    session: SessionDep,
    workspace_id: WorkspaceDep,
) -> MemberPublic:
    """Change a member's profile, custom attributes (merged by name) or role."""
    member = _member(session, workspace_id, community_id, member_id, for_update=True)
    service.update_member(session=session, member=member, update=body)
    session.commit()
    return service.member_public(session=session, member=member)


class MoveIn(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


class MuteIn(MoveIn):
    until: datetime = Field(description="When the mute ends; it is lifted by itself then.")


def _move(
    community_id: str,
    member_id: str,
    move: states.Move,
    body: MoveIn,
    session: SessionDep,
    workspace_id: str,
    actor: str,
) -> MemberPublic:
    member = _member(session, workspace_id, community_id, member_id, for_update=True)
    states.apply_move(
        session=session,
        member=member,
        move=move,
        actor=actor,
        reason=body.reason,
        until=getattr(body, "until", None),
    )
    session.commit()
    return service.member_public(session=session, member=member)


def _route_move(move: states.Move) -> None:
    @router.post(
        f"/communities/{{community_id}}/members/{{member_id}}/{move.value}",
        response_model=MemberPublic,
        tags=["member states"],
        name=f"{move.value}_member",
        responses={409: {"description": "Not possible from the member's current state."}},
    )
    def handler(
        community_id: str,
        member_id: str,
        session: SessionDep,
        workspace_id: WorkspaceDep,
        actor: ActorDep,
        body: MoveIn | None = None,
    ) -> MemberPublic:
        return _move(community_id, member_id, move, body or MoveIn(), session, workspace_id, actor)

    handler.__doc__ = (
        f"{move.value.capitalize()} a member; recorded with actor and reason, and announced."
    )


for _move_kind in (
    states.Move.approve,
    states.Move.reject,
    states.Move.unmute,
    states.Move.remove,
    states.Move.ban,
    states.Move.unban,
):
    _route_move(_move_kind)


@router.post(
    "/communities/{community_id}/members/{member_id}/mute",
    response_model=MemberPublic,
    tags=["member states"],
    responses={409: {"description": "Not possible from this state."}},
)
def mute_member(
    community_id: str,
    member_id: str,
    body: MuteIn,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    actor: ActorDep,
) -> MemberPublic:
    """Mute a member until a time; the mute lifts by itself."""
    return _move(community_id, member_id, states.Move.mute, body, session, workspace_id, actor)


@router.get(
    "/communities/{community_id}/members/{member_id}/history",
    response_model=list[TransitionPublic],
    tags=["member states"],
)
def member_history(
    community_id: str, member_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> list[TransitionPublic]:
    member = _member(session, workspace_id, community_id, member_id)
    return [
        TransitionPublic.model_validate(t, from_attributes=True)
        for t in states.history(session=session, member=member)
    ]


class MergeIn(BaseModel):
    member_id: str = Field(description="The member to fold into this one.")


@router.post(
    "/communities/{community_id}/members/{member_id}/merge",
    response_model=MemberPublic,
    tags=["members"],
)
def merge(
    community_id: str,
    member_id: str,
    body: MergeIn,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    actor: ActorDep,
) -> MemberPublic:
    """Merge another record of the same person into this member."""
    first, second = sorted([member_id, body.member_id])  # lock in one order: no deadlock
    locked = {
        m: _member(session, workspace_id, community_id, m, for_update=True) for m in (first, second)
    }
    survivor = merge_members(
        session=session, survivor=locked[member_id], merged=locked[body.member_id], actor=actor
    )
    session.commit()
    return service.member_public(session=session, member=survivor)
