"""Chat groups (群) of a community, who is in them, and the rotating group code (群活码) that
places newcomers in the first group with room. The routes live here; the rules in
groups_catalog (registering, editing, dissolving), groups_capacity (counting and placing) and
groups_roster (joins and leaves)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import JSONResponse
from sqlmodel import Session, col, select

from services.common.contracts import GroupMemberJoined, GroupMemberLeft, MemberStatusChanged
from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import WorkspaceDep
from services.common.http.pagination import (
    Page,
    PageParams,
    decode_cursor,
    encode_cursor,
    page_params,
    paginate,
)
from services.common.http.problems import Problem, not_found
from services.common.periodic import PeriodicJob
from services.members import groups_capacity, groups_catalog, groups_roster, service
from services.members.groups_models import (
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
from services.members.models import Community, Platform, now

__all__ = ["HANDLERS", "JOBS", "Group", "GroupKind", "GroupMembership", "GroupState", "router"]

router = APIRouter(prefix="/v1", tags=["groups"])
Paging = Annotated[PageParams, Depends(page_params)]


def _community(session: Session, workspace_id: str, community_id: str) -> Community:
    return service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id
    )


@router.post(
    "/communities/{community_id}/groups",
    status_code=status.HTTP_201_CREATED,
    response_model=GroupPublic,
    responses={409: {"description": "The platform's group is already registered."}},
)
def create_group(
    community_id: str,
    body: GroupCreate,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    once: OnceDep,
) -> JSONResponse:
    """Register a chat group; it fills after the community's other groups. Emits
    `group.created`."""

    def create() -> tuple[int, GroupPublic]:
        community = _community(session, workspace_id, community_id)
        group = groups_catalog.create_group(
            session=session, community=community, group_in=body, at=now()
        )
        return 201, groups_capacity.group_public(session, [group], now())[0]

    return once.run(body, create)


@router.get("/communities/{community_id}/groups", response_model=Page[GroupPublic])
def list_groups(
    community_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    paging: Paging,
    state: GroupState | None = None,
    kind: GroupKind | None = None,
    platform: Platform | None = None,
    segment_id: str | None = None,
) -> Page[GroupPublic]:
    """The community's groups in filling order (`position`)."""
    community = _community(session, workspace_id, community_id)
    query = select(Group).where(
        Group.community_id == community.id, Group.workspace_id == workspace_id
    )
    for column, value in (
        (Group.state, state),
        (Group.kind, kind),
        (Group.platform, platform),
        (Group.segment_id, segment_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if paging.cursor:
        after = decode_cursor(paging.cursor)
        if not after.isdigit():
            raise Problem(400, "invalid-cursor", "Invalid cursor", "Pass back `next_cursor`.")
        query = query.where(col(Group.position) > int(after))
    rows = list(session.exec(query.order_by(col(Group.position)).limit(paging.limit + 1)))
    cursor = (
        encode_cursor(str(rows[paging.limit - 1].position)) if len(rows) > paging.limit else None
    )
    return Page(
        data=groups_capacity.group_public(session, rows[: paging.limit], now()), next_cursor=cursor
    )


@router.get("/communities/{community_id}/groups/{group_id}", response_model=GroupPublic)
def get_group(
    community_id: str, group_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> GroupPublic:
    community = _community(session, workspace_id, community_id)
    group = groups_catalog.get_group(session=session, community=community, group_id=group_id)
    return groups_capacity.group_public(session, [group], now())[0]


@router.patch(
    "/communities/{community_id}/groups/{group_id}",
    response_model=GroupPublic,
    responses={409: {"description": "The group was dissolved."}},
)
def update_group(
    community_id: str,
    group_id: str,
    body: GroupUpdate,
    session: SessionDep,
    workspace_id: WorkspaceDep,
) -> GroupPublic:
    """Rename, resize, move in the filling order (others shift), or reschedule dissolving."""
    community = _community(session, workspace_id, community_id)
    group = groups_catalog.update_group(
        session=session, community=community, group_id=group_id, update=body, at=now()
    )
    session.commit()
    return groups_capacity.group_public(session, [group], now())[0]


@router.post(
    "/communities/{community_id}/groups/{group_id}/dissolve",
    response_model=GroupPublic,
    responses={409: {"description": "Already dissolved."}},
)
def dissolve_group(
    community_id: str, group_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> GroupPublic:
    """Dissolve a group now (e.g. one long silent): memberships close, held places are
    cancelled, and bots are told with `group.dissolved`."""
    community = _community(session, workspace_id, community_id)
    group = groups_catalog.dissolve_group(
        session=session,
        community=community,
        group_id=group_id,
        reason="dissolved by operator",
        at=now(),
    )
    session.commit()
    return groups_capacity.group_public(session, [group], now())[0]


# ---- membership ---------------------------------------------------------------------------


@router.get(
    "/communities/{community_id}/groups/{group_id}/members",
    response_model=Page[GroupMemberPublic],
)
def list_group_members(
    community_id: str,
    group_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    paging: Paging,
    include_left: Annotated[bool, Query(description="Also those who left.")] = False,
) -> Page[GroupMemberPublic]:
    """Who is in the group (by member id), as bots report and operators record."""
    community = _community(session, workspace_id, community_id)
    group = groups_catalog.get_group(session=session, community=community, group_id=group_id)
    query = groups_roster.roster_query(group=group, include_left=include_left)
    if paging.cursor:
        query = query.where(col(GroupMembership.member_id) > decode_cursor(paging.cursor))
    rows = list(
        session.exec(query.order_by(col(GroupMembership.member_id)).limit(paging.limit + 1))
    )
    page = [
        GroupMemberPublic(
            member_id=m.member_id, display_name=name, joined_at=m.joined_at, left_at=m.left_at
        )
        for m, name in rows[: paging.limit]
    ]
    cursor = encode_cursor(page[-1].member_id) if len(rows) > paging.limit else None
    return Page(data=page, next_cursor=cursor)


@router.post(
    "/communities/{community_id}/groups/{group_id}/members/{member_id}",
    status_code=status.HTTP_201_CREATED,
    response_model=GroupMemberPublic,
    responses={
        200: {"model": GroupMemberPublic, "description": "Already in the group."},
        409: {"description": "`group-full`, `group-dissolved` or `member-not-assignable`."},
    },
)
def add_group_member(
    community_id: str,
    group_id: str,
    member_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
) -> JSONResponse:
    """Record that a member is in the group; a place held for them there is fulfilled."""
    community = _community(session, workspace_id, community_id)
    group = groups_catalog.get_group(session=session, community=community, group_id=group_id)
    member = service.get_member(
        session=session, workspace_id=workspace_id, community_id=community.id, member_id=member_id
    )
    added = groups_roster.add_member(session=session, group=group, member=member, at=now())
    session.commit()
    row = session.get(GroupMembership, (group.id, member.id))
    assert row is not None
    body = GroupMemberPublic(
        member_id=member.id,
        display_name=member.display_name,
        joined_at=row.joined_at,
        left_at=row.left_at,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if added else 200)


@router.delete(
    "/communities/{community_id}/groups/{group_id}/members/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
)
def remove_group_member(
    community_id: str,
    group_id: str,
    member_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
) -> Response:
    """Record that a member left the group (no-op if they were not in it)."""
    community = _community(session, workspace_id, community_id)
    group = groups_catalog.get_group(session=session, community=community, group_id=group_id)
    member = service.get_member(
        session=session, workspace_id=workspace_id, community_id=community.id, member_id=member_id
    )
    groups_roster.remove_member(session=session, group=group, member=member, at=now())
    session.commit()
    return Response(status_code=204)


# ---- assignments (群活码) -------------------------------------------------------------------


@router.post(
    "/communities/{community_id}/group-assignments",
    status_code=status.HTTP_201_CREATED,
    response_model=AssignmentPublic,
    tags=["group assignments"],
    responses={
        200: {"model": AssignmentPublic, "description": "The place already held for them."},
        409: {"description": "`no-group-capacity`: add a group; or `already-in-group`."},
    },
)
def assign_member(
    community_id: str,
    body: AssignmentCreate,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    once: OnceDep,
) -> JSONResponse:
    """Give a member a place in the first group, in `position` order, with room; the bot
    sends them its invitation (`member.assigned_to_group`). The place is held for
    `groups.assignment_ttl_hours`. Permanent groups only unless `include_temporary`;
    segment groups only for assignments naming their segment. A member holds one place at a
    time: asking again while it is held returns it (200)."""

    def create() -> tuple[int, AssignmentPublic]:
        community = _community(session, workspace_id, community_id)
        member = service.get_member(
            session=session,
            workspace_id=workspace_id,
            community_id=community.id,
            member_id=body.member_id,
        )
        assignment, created = groups_capacity.assign(
            session=session,
            community=community,
            member=member,
            segment_id=body.segment_id,
            include_temporary=body.include_temporary,
            at=now(),
        )
        return (201 if created else 200), groups_capacity.assignment_public(
            session, assignment, now()
        )

    return once.run(body, create)


@router.get(
    "/communities/{community_id}/group-assignments",
    response_model=Page[AssignmentPublic],
    tags=["group assignments"],
)
def list_assignments(
    community_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    paging: Paging,
    member_id: str | None = None,
    group_id: str | None = None,
    status: AssignmentStatus | None = None,
) -> Page[AssignmentPublic]:
    """Places given to members, oldest first."""
    community = _community(session, workspace_id, community_id)
    query = select(GroupAssignment).where(
        GroupAssignment.community_id == community.id,
        GroupAssignment.workspace_id == workspace_id,
    )
    for column, value in (
        (GroupAssignment.member_id, member_id),
        (GroupAssignment.group_id, group_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if status is not None:
        query = groups_capacity.with_status(query, status, now())
    rows, cursor = paginate(session, query, col(GroupAssignment.id), paging)
    return Page(
        data=[groups_capacity.assignment_public(session, a, now()) for a in rows],
        next_cursor=cursor,
    )


@router.get(
    "/communities/{community_id}/group-assignments/{assignment_id}",
    response_model=AssignmentPublic,
    tags=["group assignments"],
)
def get_assignment(
    community_id: str, assignment_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> AssignmentPublic:
    community = _community(session, workspace_id, community_id)
    assignment = session.exec(
        select(GroupAssignment).where(
            GroupAssignment.id == assignment_id,
            GroupAssignment.community_id == community.id,
            GroupAssignment.workspace_id == workspace_id,
        )
    ).one_or_none()
    if assignment is None:
        raise not_found("group assignment", assignment_id)
    return groups_capacity.assignment_public(session, assignment, now())


HANDLERS = {
    GroupMemberJoined.type: groups_roster.on_member_joined,
    GroupMemberLeft.type: groups_roster.on_member_left,
    MemberStatusChanged.type: groups_roster.on_member_gone,
}

JOBS = [
    PeriodicJob("dissolve-temporary-groups", 60, groups_catalog.dissolve_due),
    PeriodicJob("expire-group-assignments", 60, groups_capacity.expire_assignments),
]
