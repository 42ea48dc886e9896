"""Who is in which group: what bots report (joins and leaves), what operators record through
the API, and how a join fulfils the place held for the member."""

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from services.common.clock import now
from services.members import problems
from services.members.community.models import Member
from services.members.groups.capacity import (
    counts,
    lock_community_groups,
    open_assignment,
    settle_community,
)
from services.members.groups.models import (
    AssignmentStatus,
    Group,
    GroupAssignment,
    GroupMembership,
    GroupState,
)
from services.members.vocabulary import PRESENT

Span = tuple[datetime, datetime | None]  # (joined_at, left_at); left_at None: in the group


def after_join(span: Span | None, at: datetime) -> Span | None:
    """The membership after a join at `at`, or None if the join changes nothing: already in,
    or it happened no later than a leave already recorded (a report that arrived late; at the
    same instant, the leave wins: someone kicked at once by a bot is out)."""
    if span is None:
        return at, None
    _, left_at = span
    if left_at is None or at <= left_at:
        return None
    return at, None


def after_leave(span: Span | None, at: datetime) -> Span | None:
    """The membership after a leave at `at`, or None if it changes nothing. A leave seen
    before its join is kept as joined-and-left at `at`, so the late join cannot reopen it."""
    if span is None:
        return at, at
    joined_at, left_at = span
    if left_at is not None or at < joined_at:
        return None
    return joined_at, at


def _record(
    session: Session, group: Group, member: Member, at: datetime, *, joined: bool
) -> tuple[Span | None, Span | None]:
    """Apply a join or leave to the stored membership; the span before, and after if changed."""
    row = session.get(GroupMembership, (group.id, member.id), with_for_update=True)
    before = (row.joined_at, row.left_at) if row is not None else None
    after = (after_join if joined else after_leave)(before, at)
    if after is not None:
        if row is None:
            row = GroupMembership(
                group_id=group.id,
                member_id=member.id,
                workspace_id=group.workspace_id,
                joined_at=at,
            )
        row.joined_at, row.left_at = after
        session.add(row)
        session.flush()
    return before, after


def record_join(*, session: Session, group: Group, member: Member, at: datetime) -> bool:
    """The member is in the group since `at`; True if that is news. A join fulfils the
    place held for the member in this group."""
    if _record(session, group, member, at, joined=True)[1] is None:
        return False
    held = open_assignment(session, member_id=member.id)
    if held is not None and held.group_id == group.id:
        held.status, held.closed_at = AssignmentStatus.fulfilled, at
        session.add(held)
    elif held is not None and held.segment_id == group.segment_id:
        # They found a group of the kind they were placed for: the held place is freed.
        held.status, held.closed_at = AssignmentStatus.cancelled, at
        session.add(held)
    session.flush()
    return True


def record_leave(*, session: Session, group: Group, member: Member, at: datetime) -> bool:
    """The member left the group at `at`; True if they were in it until then."""
    before, after = _record(session, group, member, at, joined=False)
    return before is not None and after is not None


def add_member(*, session: Session, group: Group, member: Member, at: datetime) -> bool:
    """Record that the member is in the group; True if they were not. Refused when the group
    has no room for them, unless a place is held for them there."""
    lock_community_groups(session, community_id=group.community_id)
    session.refresh(group)
    if group.state == GroupState.dissolved:
        raise problems.GroupDissolved(group_id=group.id)
    if member.status not in PRESENT:
        raise problems.MemberNotAssignable(member_status=member.status.value)
    current = session.get(GroupMembership, (group.id, member.id))
    if current is not None and current.left_at is None:
        return False
    held = open_assignment(session, member_id=member.id)
    members, held_places = counts(session, group_ids=[group.id], at=at)[group.id]
    has_place = held is not None and held.group_id == group.id
    if not has_place and members + held_places >= group.capacity:
        raise problems.GroupFull(
            name=group.name, capacity=group.capacity, members=members, held_places=held_places
        )
    changed = record_join(session=session, group=group, member=member, at=at)
    settle_community(session, community_id=group.community_id, at=at)
    return changed


def remove_member(*, session: Session, group: Group, member: Member, at: datetime) -> bool:
    """Record that the member left the group; True if they were in it."""
    lock_community_groups(session, community_id=group.community_id)
    current = session.get(GroupMembership, (group.id, member.id))
    if current is None or current.left_at is not None:
        return False
    record_leave(session=session, group=group, member=member, at=max(at, current.joined_at))
    settle_community(session, community_id=group.community_id, at=at)
    return True


def roster_query(*, group: Group, include_left: bool) -> Any:
    """Who is in the group (and who left, if asked), with display names; rows carry the
    member id apart, as the key a page is cut by."""
    query = (
        select(GroupMembership, Member.display_name, col(GroupMembership.member_id))
        .join(Member, col(Member.id) == GroupMembership.member_id)
        .where(GroupMembership.group_id == group.id)
    )
    if not include_left:
        query = query.where(col(GroupMembership.left_at).is_(None))
    return query


def move_memberships_and_places(session: Session, *, survivor: Member, merged: Member) -> None:
    """One person's memberships become one: in a group both were in, the survivor is in it
    if either is, since the earlier join; the survivor keeps at most one held place."""
    for row in session.exec(
        select(GroupMembership).where(GroupMembership.member_id == merged.id)
    ).all():
        kept = session.get(GroupMembership, (row.group_id, survivor.id))
        if kept is None:
            session.add(
                GroupMembership(
                    group_id=row.group_id,
                    member_id=survivor.id,
                    workspace_id=row.workspace_id,
                    joined_at=row.joined_at,
                    left_at=row.left_at,
                )
            )
        else:
            kept.joined_at = min(kept.joined_at, row.joined_at)
            if kept.left_at is not None and row.left_at is None:
                kept.left_at = None
            elif kept.left_at is not None and row.left_at is not None:
                kept.left_at = max(kept.left_at, row.left_at)
            session.add(kept)
        session.delete(row)
    session.flush()
    survivor_place = open_assignment(session, member_id=survivor.id)
    for place in session.exec(
        select(GroupAssignment).where(GroupAssignment.member_id == merged.id)
    ).all():
        if place.status == AssignmentStatus.open and survivor_place is not None:
            place.status, place.closed_at = AssignmentStatus.cancelled, now()
            session.add(place)
            session.flush()
        place.member_id = survivor.id
        session.add(place)
    session.flush()
