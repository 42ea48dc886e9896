"""Capacity and the rotating group code (群活码): newcomers are given a place in the first group,
in `position` order, that has room, counting real members (what bots report) plus places held
for invitees who have not joined yet. Held places expire, so no-shows free their place.

Everything that changes a community's counts (assigning, joins and leaves, capacity edits,
dissolving) first takes one transaction-scoped advisory lock per community, so concurrent
assignments never overfill a group and a group's `state` always matches its counts.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from services.common.contracts.groups import GroupFull, MemberAssignedToGroup
from services.common.http.problems import not_found
from services.common.ids import new_id
from services.members import problems
from services.members.community.members import identities_of
from services.members.community.models import Community, Member
from services.members.groups.models import (
    AssignmentPublic,
    AssignmentStatus,
    Group,
    GroupAssignment,
    GroupKind,
    GroupMembership,
    GroupPublic,
    GroupState,
)
from services.members.groups.replica import announce_changed
from services.members.publishing import emit
from services.members.vocabulary import PRESENT

_LOCK_CLASS = "members:chat_group"


def lock_community_groups(session: Session, *, community_id: str) -> None:
    """Serialise every change to one community's group counts until the transaction ends."""
    session.execute(
        sa.select(
            sa.func.pg_advisory_xact_lock(
                sa.func.hashtext(_LOCK_CLASS), sa.func.hashtext(community_id)
            )
        )
    )


@dataclass
class Fill:
    """A group with how full it is at one moment."""

    group: Group
    members: int
    held: int

    @property
    def room(self) -> int:
        return max(0, self.group.capacity - self.members - self.held)


def counts(session: Session, *, group_ids: list[str], at: datetime) -> dict[str, tuple[int, int]]:
    """Members now and places held (open, unexpired assignments) for each group."""
    result: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    if not group_ids:
        return {}
    for group_id, n in session.exec(
        select(GroupMembership.group_id, func.count())
        .where(col(GroupMembership.group_id).in_(group_ids), col(GroupMembership.left_at).is_(None))
        .group_by(col(GroupMembership.group_id))
    ):
        result[group_id][0] = n
    for group_id, n in session.exec(
        select(GroupAssignment.group_id, func.count())
        .where(
            col(GroupAssignment.group_id).in_(group_ids),
            GroupAssignment.status == AssignmentStatus.open,
            col(GroupAssignment.expires_at) > at,
        )
        .group_by(col(GroupAssignment.group_id))
    ):
        result[group_id][1] = n
    return {g: (result[g][0], result[g][1]) for g in group_ids}


def community_fills(session: Session, *, community_id: str, at: datetime) -> list[Fill]:
    """The community's groups that are not dissolved, in filling order, with their counts."""
    groups = list(
        session.exec(
            select(Group)
            .where(Group.community_id == community_id, Group.state != GroupState.dissolved)
            .order_by(col(Group.position))
        )
    )
    by_id = counts(session, group_ids=[g.id for g in groups], at=at)
    return [Fill(g, *by_id[g.id]) for g in groups]


def takes_newcomers(
    group: Group, *, segment_id: str | None, include_temporary: bool, at: datetime
) -> bool:
    """Whether an assignment (for this segment, or none) may go to this group."""
    return (
        group.state != GroupState.dissolved
        and group.segment_id == segment_id
        and (group.kind == GroupKind.permanent or include_temporary)
        and (group.dissolve_at is None or group.dissolve_at > at)
    )


def eligible(
    fills: list[Fill], *, segment_id: str | None, include_temporary: bool, at: datetime
) -> list[Fill]:
    """The groups an assignment may choose from, in filling order; it takes the first with
    room."""
    return [
        f
        for f in fills
        if takes_newcomers(
            f.group, segment_id=segment_id, include_temporary=include_temporary, at=at
        )
    ]


def settle(session: Session, *, fills: list[Fill], at: datetime) -> None:
    """Make each group's state match its counts; a group that just became full is announced
    with where newcomers go next (None: operators must add a group)."""
    for fill in fills:
        wanted = GroupState.full if fill.room == 0 else GroupState.filling
        if fill.group.state == wanted:
            continue
        fill.group.state = wanted
        session.add(fill.group)
        announce_changed(session, group=fill.group, changed=["state"], at=at)
        if wanted != GroupState.full:
            continue
        group = fill.group
        next_group = next(
            (
                f.group
                for f in fills
                if f.room > 0
                and takes_newcomers(
                    f.group, segment_id=group.segment_id, include_temporary=False, at=at
                )
            ),
            None,
        )
        emit(
            session,
            GroupFull(
                group_id=group.id,
                community_id=group.community_id,
                platform=group.platform,
                external_id=group.external_id,
                name=group.name,
                capacity=group.capacity,
                members=fill.members,
                held_places=fill.held,
                segment_id=group.segment_id,
                next_group_id=next_group.id if next_group else None,
                full_at=at,
            ),
            community_id=group.community_id,
            workspace_id=group.workspace_id,
        )


def settle_community(session: Session, *, community_id: str, at: datetime) -> None:
    """Recount the community's groups and settle their states (the caller holds the lock)."""
    settle(session, fills=community_fills(session, community_id=community_id, at=at), at=at)


def open_assignment(session: Session, *, member_id: str) -> GroupAssignment | None:
    """The place held for the member now, if any (at most one)."""
    return session.exec(
        select(GroupAssignment).where(
            GroupAssignment.member_id == member_id,
            GroupAssignment.status == AssignmentStatus.open,
        )
    ).one_or_none()


def assign(
    *,
    session: Session,
    community: Community,
    member: Member,
    segment_id: str | None,
    include_temporary: bool,
    at: datetime,
) -> tuple[GroupAssignment, bool]:
    """Hold a place for the member in the first group with room, or return the place already
    held; True when a new place was given. A 409 problem when no group has room."""
    if member.status not in PRESENT:
        raise problems.MemberNotAssignable(member_status=member.status.value)
    lock_community_groups(session, community_id=community.id)
    held = open_assignment(session, member_id=member.id)
    if held is not None and held.expires_at > at:
        return held, False
    if held is not None:  # expired but not yet swept: free it before giving a new place
        held.status, held.closed_at = AssignmentStatus.expired, held.expires_at
        session.add(held)
        session.flush()
    fills = community_fills(session, community_id=community.id, at=at)
    candidates = eligible(fills, segment_id=segment_id, include_temporary=include_temporary, at=at)
    already_in = session.exec(
        select(GroupMembership.group_id).where(
            GroupMembership.member_id == member.id,
            col(GroupMembership.left_at).is_(None),
            col(GroupMembership.group_id).in_([f.group.id for f in candidates]),
        )
    ).first()
    if already_in is not None:
        raise problems.AlreadyInGroup(group_id=already_in)
    chosen = next((f for f in candidates if f.room > 0), None)
    if chosen is None:
        raise problems.NoGroupCapacity(groups=len(candidates), segment_id=segment_id)
    ttl = timedelta(hours=community.rules().groups.assignment_ttl_hours)
    assignment = GroupAssignment(
        id=new_id("gas"),
        workspace_id=community.workspace_id,
        community_id=community.id,
        group_id=chosen.group.id,
        member_id=member.id,
        segment_id=segment_id,
        expires_at=at + ttl,
        created_at=at,
    )
    session.add(assignment)
    chosen.held += 1
    settle(session, fills=fills, at=at)
    group = chosen.group
    emit(
        session,
        MemberAssignedToGroup(
            assignment_id=assignment.id,
            member_id=member.id,
            community_id=community.id,
            group_id=group.id,
            platform=group.platform,
            group_external_id=group.external_id,
            group_name=group.name,
            identities=identities_of(session=session, member_id=member.id),
            expires_at=assignment.expires_at,
            assigned_at=at,
        ),
        member=member,
        community_id=community.id,
        workspace_id=community.workspace_id,
    )
    session.flush()
    return assignment, True


def expire_assignments(session: Session, at: datetime) -> int:
    """Free the places of invitees who did not join in time (a periodic job)."""
    communities = session.exec(
        select(GroupAssignment.community_id)
        .where(
            GroupAssignment.status == AssignmentStatus.open,
            col(GroupAssignment.expires_at) <= at,
        )
        .distinct()
        .limit(200)
    ).all()
    expired = 0
    for community_id in communities:
        lock_community_groups(session, community_id=community_id)
        result = session.execute(
            sa.update(GroupAssignment)
            .where(
                col(GroupAssignment.community_id) == community_id,
                col(GroupAssignment.status) == AssignmentStatus.open,
                col(GroupAssignment.expires_at) <= at,
            )
            .values(status=AssignmentStatus.expired, closed_at=GroupAssignment.expires_at)
            .execution_options(synchronize_session=False)
        )
        expired += result.rowcount  # type: ignore[attr-defined]
        settle_community(session, community_id=community_id, at=at)
    return expired


def group_public(session: Session, *, groups: list[Group], at: datetime) -> list[GroupPublic]:
    """The groups as the API shows them, with members, held places and room at `at`."""
    by_id = counts(session, group_ids=[g.id for g in groups], at=at)
    shown = []
    for group in groups:
        members, held = by_id[group.id]
        fill = Fill(group, members, held)
        room = 0 if group.state == GroupState.dissolved else fill.room
        shown.append(
            GroupPublic(**group.model_dump(), members=members, held_places=held, room=room)
        )
    return shown


def assignment_public(
    session: Session, *, assignment: GroupAssignment, at: datetime
) -> AssignmentPublic:
    """An assignment as the API shows it: a lapsed place is expired even before the sweep."""
    group = session.get(Group, assignment.group_id)
    assert group is not None
    shown = assignment.model_dump()
    if assignment.status == AssignmentStatus.open and assignment.expires_at <= at:
        shown |= {"status": AssignmentStatus.expired, "closed_at": assignment.expires_at}
    return AssignmentPublic(
        **shown, platform=group.platform, group_external_id=group.external_id, group_name=group.name
    )


def get_assignment(
    *, session: Session, community: Community, assignment_id: str
) -> GroupAssignment:
    """The community's assignment, or the 404 problem."""
    assignment = session.exec(
        select(GroupAssignment).where(
            GroupAssignment.id == assignment_id,
            GroupAssignment.community_id == community.id,
            GroupAssignment.workspace_id == community.workspace_id,
        )
    ).one_or_none()
    if assignment is None:
        raise not_found("group assignment", assignment_id)
    return assignment


def assignments_query(
    *,
    community: Community,
    member_id: str | None,
    group_id: str | None,
    status: AssignmentStatus | None,
    at: datetime,
) -> Any:
    """The community's assignments, narrowed by member, group and status as shown at `at`."""
    query = select(GroupAssignment).where(
        GroupAssignment.community_id == community.id,
        GroupAssignment.workspace_id == community.workspace_id,
    )
    for column, value in (
        (GroupAssignment.member_id, member_id),
        (GroupAssignment.group_id, group_id),
    ):
        if value is not None:
            query = query.where(column == value)
    return query if status is None else with_status(query, status, at)


def with_status(query: Any, status: AssignmentStatus, at: datetime) -> Any:
    """Filter assignments by status as shown (see `assignment_public`)."""
    lapsed = sa.and_(
        col(GroupAssignment.status) == AssignmentStatus.open,
        col(GroupAssignment.expires_at) <= at,
    )
    if status == AssignmentStatus.open:
        return query.where(col(GroupAssignment.status) == status, sa.not_(lapsed))
    if status == AssignmentStatus.expired:
        return query.where(sa.or_(col(GroupAssignment.status) == status, lapsed))
    return query.where(col(GroupAssignment.status) == status)
