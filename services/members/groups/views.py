"""Chat groups (群) of a community, who is in them, and the rotating group code (群活码) that
places newcomers in the first group with room. The routes live here; the rules in
service.py (registering, editing, dissolving), capacity.py (counting and placing) and
roster.py (joins and leaves)."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse
from sqlmodel import col

from services.common.clock import now
from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.pagination import (
    Page,
    Paging,
    paginate,
)
from services.members.community import members
from services.members.deps import CommunityDep, MemberDep, located
from services.members.groups import capacity, roster
from services.members.groups import service as groups_service
from services.members.groups.models import (
    AssignmentCreate,
    AssignmentPublic,
    AssignmentStatus,
    Group,
    GroupAssignment,
    GroupCreate,
    GroupKind,
    GroupMemberPublic,
    GroupMembership,
    GroupPublic,
    GroupState,
    GroupUpdate,
)
from services.members.vocabulary import Platform

router = APIRouter(prefix="/v1/communities/{community_id}", tags=["groups"])


@router.post(
    "/groups",
    status_code=status.HTTP_201_CREATED,
    response_model=GroupPublic,
    responses={409: {"description": "The platform's group is already registered."}},
)
def create_group(
    community: CommunityDep,
    body: GroupCreate,
    session: SessionDep,
    once: OnceDep,
) -> JSONResponse:
    """Register a chat group; it fills after the community's other groups. Emits
    `group.created`."""

    def create() -> tuple[int, GroupPublic]:
        group = groups_service.create_group(
            session=session, community=community, group_in=body, at=now()
        )
        return 201, capacity.group_public(session, groups=[group], at=now())[0]

    return located(once.run(body, create), f"/v1/communities/{community.id}/groups/{{id}}")


@router.get("/groups", response_model=Page[GroupPublic])
def list_groups(
    community: CommunityDep,
    session: SessionDep,
    paging: Paging,
    state: GroupState | None = None,
    kind: GroupKind | None = None,
    platform: Platform | None = None,
    segment_id: str | None = None,
) -> Page[GroupPublic]:
    """The community's groups in filling order (`position`)."""
    query = groups_service.groups_query(
        community=community, state=state, kind=kind, platform=platform, segment_id=segment_id
    )
    # Positions are unique in a community: the filling order is a total order.
    rows, cursor = paginate(session, query, col(Group.position), paging)
    return Page(data=capacity.group_public(session, groups=rows, at=now()), next_cursor=cursor)


@router.get("/groups/{group_id}", response_model=GroupPublic)
def get_group(community: CommunityDep, group_id: str, session: SessionDep) -> GroupPublic:
    group = groups_service.get_group(session=session, community=community, group_id=group_id)
    return capacity.group_public(session, groups=[group], at=now())[0]


@router.patch(
    "/groups/{group_id}",
    response_model=GroupPublic,
    responses={409: {"description": "The group was dissolved."}},
)
def update_group(
    community: CommunityDep,
    group_id: str,
    body: GroupUpdate,
    session: SessionDep,
) -> GroupPublic:
    """Rename, resize, move in the filling order (others shift), or reschedule dissolving."""
    group = groups_service.update_group(
        session=session, community=community, group_id=group_id, update=body, at=now()
    )
    session.commit()
    return capacity.group_public(session, groups=[group], at=now())[0]


@router.post(
    "/groups/{group_id}/dissolve",
    response_model=GroupPublic,
    responses={409: {"description": "Already dissolved."}},
)
def dissolve_group(community: CommunityDep, group_id: str, session: SessionDep) -> GroupPublic:
    """Dissolve a group now (e.g. one long silent): memberships close, held places are
    cancelled, and bots are told with `group.dissolved`."""
    group = groups_service.dissolve_group(
        session=session,
        community=community,
        group_id=group_id,
        reason="dissolved by operator",
        at=now(),
    )
    session.commit()
    return capacity.group_public(session, groups=[group], at=now())[0]


@router.get(
    "/groups/{group_id}/members",
    response_model=Page[GroupMemberPublic],
)
def list_group_members(
    community: CommunityDep,
    group_id: str,
    session: SessionDep,
    paging: Paging,
    include_left: Annotated[bool, Query(description="Also those who left.")] = False,
) -> Page[GroupMemberPublic]:
    """Who is in the group (by member id), as bots report and operators record."""
    group = groups_service.get_group(session=session, community=community, group_id=group_id)
    query = roster.roster_query(group=group, include_left=include_left)
    rows, cursor = paginate(session, query, col(GroupMembership.member_id), paging)
    page = [
        GroupMemberPublic(
            member_id=m.member_id, display_name=name, joined_at=m.joined_at, left_at=m.left_at
        )
        for m, name, _ in rows
    ]
    return Page(data=page, next_cursor=cursor)


@router.post(
    "/groups/{group_id}/members/{member_id}",
    status_code=status.HTTP_201_CREATED,
    response_model=GroupMemberPublic,
    responses={
        200: {"model": GroupMemberPublic, "description": "Already in the group."},
        409: {"description": "`group-full`, `group-dissolved` or `member-not-assignable`."},
    },
)
def add_group_member(
    community: CommunityDep,
    group_id: str,
    member: MemberDep,
    session: SessionDep,
) -> JSONResponse:
    """Record that a member is in the group; a place held for them there is fulfilled."""
    group = groups_service.get_group(session=session, community=community, group_id=group_id)
    added = roster.add_member(session=session, group=group, member=member, at=now())
    session.commit()
    row = session.get(GroupMembership, (group.id, member.id))
    assert row is not None
    body = GroupMemberPublic(
        member_id=member.id,
        display_name=member.display_name,
        joined_at=row.joined_at,
        left_at=row.left_at,
    )
    # A membership has no page of its own: it is read in the group's member list.
    return located(
        JSONResponse(body.model_dump(mode="json"), status_code=201 if added else 200),
        f"/v1/communities/{community.id}/groups/{group.id}/members",
    )


@router.delete(
    "/groups/{group_id}/members/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
)
def remove_group_member(
    community: CommunityDep,
    group_id: str,
    member: MemberDep,
    session: SessionDep,
) -> Response:
    """Record that a member left the group (no-op if they were not in it)."""
    group = groups_service.get_group(session=session, community=community, group_id=group_id)
    roster.remove_member(session=session, group=group, member=member, at=now())
    session.commit()
    return Response(status_code=204)


@router.post(
    "/group-assignments",
    status_code=status.HTTP_201_CREATED,
    response_model=AssignmentPublic,
    tags=["group assignments"],
    responses={
        200: {"model": AssignmentPublic, "description": "The place already held for them."},
        409: {"description": "`no-group-capacity`: add a group; or `already-in-group`."},
    },
)
def assign_member(
    community: CommunityDep,
    body: AssignmentCreate,
    session: SessionDep,
    once: OnceDep,
) -> JSONResponse:
    """Give a member a place in the first group, in `position` order, with room; the bot
    sends them its invitation (`member.assigned_to_group`). The place is held for
    `groups.assignment_ttl_hours`. Permanent groups only unless `include_temporary`;
    segment groups only for assignments naming their segment. A member holds one place at a
    time: asking again while it is held returns it (200)."""

    def create() -> tuple[int, AssignmentPublic]:
        member = members.get_member(
            session=session,
            workspace_id=community.workspace_id,
            community_id=community.id,
            member_id=body.member_id,
        )
        assignment, created = capacity.assign(
            session=session,
            community=community,
            member=member,
            segment_id=body.segment_id,
            include_temporary=body.include_temporary,
            at=now(),
        )
        return (201 if created else 200), capacity.assignment_public(
            session, assignment=assignment, at=now()
        )

    return located(
        once.run(body, create), f"/v1/communities/{community.id}/group-assignments/{{id}}"
    )


@router.get(
    "/group-assignments",
    response_model=Page[AssignmentPublic],
    tags=["group assignments"],
)
def list_assignments(
    community: CommunityDep,
    session: SessionDep,
    paging: Paging,
    member_id: str | None = None,
    group_id: str | None = None,
    status: AssignmentStatus | None = None,
) -> Page[AssignmentPublic]:
    """Places given to members, oldest first."""
    query = capacity.assignments_query(
        community=community, member_id=member_id, group_id=group_id, status=status, at=now()
    )
    rows, cursor = paginate(session, query, col(GroupAssignment.id), paging)
    return Page(
        data=[capacity.assignment_public(session, assignment=a, at=now()) for a in rows],
        next_cursor=cursor,
    )


@router.get(
    "/group-assignments/{assignment_id}",
    response_model=AssignmentPublic,
    tags=["group assignments"],
)
def get_assignment(
    community: CommunityDep, assignment_id: str, session: SessionDep
) -> AssignmentPublic:
    assignment = capacity.get_assignment(
        session=session, community=community, assignment_id=assignment_id
    )
    return capacity.assignment_public(session, assignment=assignment, at=now())
