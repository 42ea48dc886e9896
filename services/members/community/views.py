"""Communities and members: the core routes. Sub-domains have routers of their own."""

from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from sqlmodel import col

from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import ActorDep, WorkspaceDep
from services.common.http.pagination import Page, Paging, paginate
from services.common.http.problems import problem_response, problem_responses
from services.members import problems
from services.members.community import joining, members, models, service, states
from services.members.community.merge import merge_members
from services.members.community.models import (
    Community,
    CommunityCreate,
    CommunityPublic,
    CommunityUpdate,
    LeadCreate,
    Member,
    MemberCreate,
    MemberPublic,
    MemberTransition,
    MemberUpdate,
    MergeIn,
    MoveIn,
    MuteIn,
    TransitionPublic,
)
from services.members.community.settings import CommunitySettings, CommunitySettingsPatch
from services.members.deps import CommunityDep, MemberDep, MergeStepsDep, located
from services.members.onboarding import service as onboarding
from services.members.vocabulary import MemberStatus, Role, Stage

# Creating and listing communities; everything else is under one community.
communities = APIRouter(prefix="/v1/communities")
router = APIRouter(prefix="/v1/communities/{community_id}")


def _community_public(community: Community) -> CommunityPublic:
    return CommunityPublic.model_validate(community, from_attributes=True)


@communities.post(
    "",
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

    return located(once.run(body, create), "/v1/communities/{id}")


@communities.get("", response_model=Page[CommunityPublic], tags=["communities"])
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


@router.get("", response_model=CommunityPublic, tags=["communities"])
def get_community(community: CommunityDep) -> CommunityPublic:
    return _community_public(community)


@router.patch("", response_model=CommunityPublic, tags=["communities"])
def update_community(
    community_id: str, body: CommunityUpdate, session: SessionDep, workspace_id: WorkspaceDep
) -> CommunityPublic:
    community = service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id, for_update=True
    )
    service.update_community(session=session, community=community, update=body)
    session.commit()
    return _community_public(community)


@router.get("/settings", response_model=CommunitySettings, tags=["communities"])
def get_settings(community: CommunityDep) -> CommunitySettings:
    """Entry, onboarding, capacities, points, levels, lifecycle, referrals, moderation,
    inactivity and outreach settings."""
    return community.rules()


@router.patch("/settings", response_model=CommunitySettings, tags=["communities"])
def update_settings(
    community_id: str,
    body: CommunitySettingsPatch,
    session: SessionDep,
    workspace_id: WorkspaceDep,
) -> CommunitySettings:
    """Change some settings: sections merge, lists and values are replaced."""
    community = service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id, for_update=True
    )
    result = service.update_settings(
        session=session,
        community=community,
        patch=body.model_dump(mode="json", exclude_unset=True),
    )
    session.commit()
    return result


def _member(
    session: SessionDep,
    workspace_id: str,
    community_id: str,
    member_id: str,
    for_update: bool = False,
) -> Member:
    return members.get_member(
        session=session,
        workspace_id=workspace_id,
        community_id=community_id,
        member_id=member_id,
        for_update=for_update,
    )


@router.post(
    "/members",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberPublic,
    tags=["members"],
    responses={
        200: {
            "model": MemberPublic,
            "description": "A member already holds one of "
            "the identities; that member is returned and nothing changes.",
        },
        **problem_responses(
            problems.MemberBanned,
            problems.IdentitiesOfDifferentMembers,
            problems.InvalidInviteCode,
            problems.InviteCodeRequired,
            problems.PaymentRequired,
            problems.QuestionnaireIncomplete,
        ),
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
        member, changed = joining.join_member(
            session=session, workspace_id=workspace_id, community_id=community_id, member_in=body
        )
        return (201 if changed else 200), members.member_public(session=session, member=member)

    return located(once.run(body, create), f"/v1/communities/{community_id}/members/{{id}}")


@router.post(
    "/leads",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberPublic,
    tags=["members"],
    responses={
        200: {
            "model": MemberPublic,
            "description": "A member or lead already holds one of the identities; that record "
            "is returned and nothing changes.",
        }
    },
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
        lead, created = joining.create_lead(
            session=session, workspace_id=workspace_id, community_id=community_id, lead_in=body
        )
        return (201 if created else 200), members.member_public(session=session, member=lead)

    return located(once.run(body, create), f"/v1/communities/{community_id}/members/{{id}}")


@router.get("/members", response_model=Page[MemberPublic], tags=["members"])
def list_members(
    community: CommunityDep,
    session: SessionDep,
    paging: Paging,
    status: MemberStatus | None = None,
    role: Role | None = None,
    stage: Stage | None = None,
) -> Page[MemberPublic]:
    query = members.members_query(
        workspace_id=community.workspace_id,
        community_id=community.id,
        status=status,
        role=role,
        stage=stage,
    )
    rows, cursor = paginate(session, query, col(Member.id), paging)
    return Page(
        data=[members.member_public(session=session, member=m) for m in rows], next_cursor=cursor
    )


@router.get(
    "/members/{member_id}",
    response_model=MemberPublic,
    tags=["members"],
    responses={301: {"description": "Merged into another member (`Location`)."}},
)
def get_member(community_id: str, member: MemberDep, session: SessionDep) -> Any:
    if member.merged_into:
        # The survivor answers for the merged-away id: the same `member-merged` problem a
        # change is refused with, here as a permanent redirect to the survivor.
        merged = problems.MemberMerged(member_id=member.id, merged_into=member.merged_into)
        return problem_response(
            301,
            merged.slug,
            merged.title,
            merged.detail,
            headers={"Location": f"/v1/communities/{community_id}/members/{member.merged_into}"},
            **merged.extra,
        )
    return members.member_public(session=session, member=member)


@router.patch("/members/{member_id}", response_model=MemberPublic, tags=["members"])
def update_member(
    community_id: str,
    member_id: str,
    body: MemberUpdate,
    session: SessionDep,
    workspace_id: WorkspaceDep,
) -> MemberPublic:
    """Change a member's profile, custom attributes (merged by name) or role."""
    member = _member(session, workspace_id, community_id, member_id, for_update=True)
    members.update_member(session=session, member=member, update=body)
    # An introduction given through the profile may be the ritual's last step.
    onboarding.finish_if_complete(session=session, member=member)
    session.commit()
    return members.member_public(session=session, member=member)


def _move(
    community_id: str,
    member_id: str,
    move: models.Move,
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
    return members.member_public(session=session, member=member)


def _add_move(move: models.Move) -> None:
    """Add the route of one move; each is the same but for its name and what it does."""

    @router.post(
        f"/members/{{member_id}}/{move.value}",
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
    models.Move.approve,
    models.Move.reject,
    models.Move.unmute,
    models.Move.remove,
    models.Move.ban,
    models.Move.unban,
):
    _add_move(_move_kind)


@router.post(
    "/members/{member_id}/mute",
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
    return _move(community_id, member_id, models.Move.mute, body, session, workspace_id, actor)


@router.get(
    "/members/{member_id}/history",
    response_model=Page[TransitionPublic],
    tags=["member states"],
)
def member_history(
    member: MemberDep, session: SessionDep, paging: Paging
) -> Page[TransitionPublic]:
    """Every change of the member's status, oldest first."""
    rows, cursor = paginate(
        session,
        states.history_query(member=member),
        (col(MemberTransition.at), col(MemberTransition.id)),
        paging,
    )
    return Page(
        data=[TransitionPublic.model_validate(t, from_attributes=True) for t in rows],
        next_cursor=cursor,
    )


@router.post(
    "/members/{member_id}/merge",
    response_model=MemberPublic,
    tags=["members"],
    responses=problem_responses(problems.AlreadyMerged, problems.MergeIntoSelf),
)
def merge(
    community_id: str,
    member_id: str,
    body: MergeIn,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    actor: ActorDep,
    steps: MergeStepsDep,
) -> MemberPublic:
    """Merge another record of the same person into this member."""
    first, second = sorted([member_id, body.member_id])  # lock in one order: no deadlock
    locked = {
        m: _member(session, workspace_id, community_id, m, for_update=True) for m in (first, second)
    }
    survivor = merge_members(
        session=session,
        survivor=locked[member_id],
        merged=locked[body.member_id],
        actor=actor,
        steps=steps,
    )
    session.commit()
    return members.member_public(session=session, member=survivor)
