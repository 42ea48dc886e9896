"""Registering a community's groups, editing them (name, capacity, filling order, dissolve
time), and dissolving them: temporary groups (临时群) at their time, any group on demand."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from services.common.contracts.groups import GroupCreated, GroupDissolved
from services.common.http.problems import Problem, field_problem, not_found
from services.common.ids import new_id
from services.members import problems
from services.members.community.models import Community
from services.members.groups.capacity import lock_community_groups, settle_community
from services.members.groups.models import (
    AssignmentStatus,
    Group,
    GroupAssignment,
    GroupCreate,
    GroupKind,
    GroupMembership,
    GroupState,
    GroupUpdate,
)
from services.members.groups.replica import announce_changed
from services.members.publishing import emit
from services.members.vocabulary import Platform


def get_group(
    *, session: Session, community: Community, group_id: str, for_update: bool = False
) -> Group:
    """The community's group, or a 404 problem (another workspace's group is not found)."""
    query = select(Group).where(
        Group.id == group_id,
        Group.community_id == community.id,
        Group.workspace_id == community.workspace_id,
    )
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    group = session.exec(query).one_or_none()
    if group is None:
        raise not_found("group", group_id)
    return group


def groups_query(
    *,
    community: Community,
    state: GroupState | None = None,
    kind: GroupKind | None = None,
    platform: Platform | None = None,
    segment_id: str | None = None,
) -> Any:
    """The community's groups, narrowed by whichever of these are given."""
    query = select(Group).where(
        Group.community_id == community.id, Group.workspace_id == community.workspace_id
    )
    for column, value in (
        (Group.state, state),
        (Group.kind, kind),
        (Group.platform, platform),
        (Group.segment_id, segment_id),
    ):
        if value is not None:
            query = query.where(column == value)
    return query


def _check_dissolve_at(kind: GroupKind, dissolve_at: datetime | None, at: datetime) -> None:
    if kind == GroupKind.permanent and dissolve_at is not None:
        raise problems.DissolveAtOnPermanentGroup()
    if kind == GroupKind.temporary and (dissolve_at is None or dissolve_at <= at):
        raise problems.DissolveAtRequired()


def _duplicate(existing_id: str, group_in: GroupCreate) -> Problem:
    return problems.GroupExists(
        platform=group_in.platform.value, external_id=group_in.external_id, group_id=existing_id
    )


def create_group(
    *,
    session: Session,
    community: Community,
    group_in: GroupCreate,
    at: datetime,
    activity_id: str | None = None,
) -> Group:
    """Register a group at the end of the filling order and announce it; `activity_id` names
    the activity a temporary group is made for (see requests.py)."""
    _check_dissolve_at(group_in.kind, group_in.dissolve_at, at)
    lock_community_groups(session, community_id=community.id)
    existing = session.exec(
        select(Group.id).where(
            Group.workspace_id == community.workspace_id,
            Group.platform == group_in.platform,
            Group.external_id == group_in.external_id,
        )
    ).first()
    if existing is not None:
        raise _duplicate(existing, group_in)
    last = session.exec(
        select(func.max(Group.position)).where(Group.community_id == community.id)
    ).one()
    group = Group(
        id=new_id("grp"),
        workspace_id=community.workspace_id,
        community_id=community.id,
        platform=group_in.platform,
        external_id=group_in.external_id,
        name=group_in.name,
        capacity=group_in.capacity
        or community.rules().groups.default_capacity[group_in.platform.value],
        kind=group_in.kind,
        position=(last or 0) + 1,
        dissolve_at=group_in.dissolve_at,
        segment_id=group_in.segment_id,
        activity_id=activity_id,
        created_at=at,
    )
    try:
        with session.begin_nested():
            session.add(group)
            session.flush()
    except IntegrityError as exc:
        # Another community of the workspace registered the same chat at the same moment.
        if "uq_chat_group_platform_id" not in str(exc.orig):
            raise
        raise _duplicate("another group", group_in) from exc
    emit(
        session,
        GroupCreated(
            group_id=group.id,
            community_id=community.id,
            platform=group.platform,
            external_id=group.external_id,
            name=group.name,
            kind=group.kind,
            capacity=group.capacity,
            position=group.position,
            dissolve_at=group.dissolve_at,
            segment_id=group.segment_id,
            created_at=group.created_at,
        ),
        community_id=community.id,
        workspace_id=community.workspace_id,
    )
    return group


def _move(session: Session, group: Group, to: int) -> list[str]:
    """Put the group at position `to`; the groups in between shift by one (one statement, so
    the deferrable unique position holds at its end). Returns the ids of the groups moved."""
    count = session.exec(select(func.count()).where(Group.community_id == group.community_id)).one()
    if to > count:
        raise field_problem("position", f"Position must be between 1 and {count}.")
    start = group.position
    if to == start:
        return []
    low, high, shift = (to, start, 1) if to < start else (start, to, -1)
    session.flush()
    moved = session.execute(
        sa.update(Group)
        .where(
            col(Group.community_id) == group.community_id,
            col(Group.position).between(low, high),
        )
        .values(
            position=sa.case((col(Group.id) == group.id, to), else_=col(Group.position) + shift)
        )
        .returning(col(Group.id))
        .execution_options(synchronize_session=False)
    ).scalars()
    moved_ids = list(moved)
    session.expire_all()
    return moved_ids


def update_group(
    *, session: Session, community: Community, group_id: str, update: GroupUpdate, at: datetime
) -> Group:
    """Rename, resize, move in the filling order or reschedule the dissolving of a group."""
    lock_community_groups(session, community_id=community.id)
    group = get_group(session=session, community=community, group_id=group_id, for_update=True)
    if group.state == GroupState.dissolved:
        raise problems.GroupDissolved(group_id=group.id)
    changes: dict[str, Any] = update.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None:
            raise field_problem(key, f"{key} cannot be null")
    if "dissolve_at" in changes:
        _check_dissolve_at(group.kind, changes["dissolve_at"], at)
    changed = [
        field
        for field in ("name", "capacity", "dissolve_at")
        if field in changes and getattr(group, field) != changes[field]
    ]
    for field in changed:
        setattr(group, field, changes[field])
    session.add(group)
    moved = _move(session, group, changes["position"]) if "position" in changes else []
    session.flush()
    settle_community(session, community_id=community.id, at=at)
    # The group itself, then the groups that shifted to make room, each with what changed.
    announce_changed(
        session,
        group=group,
        changed=changed + (["position"] if group.id in moved else []),
        at=at,
    )
    for shifted in moved:
        if shifted != group.id:
            other = session.get_one(Group, shifted)
            announce_changed(session, group=other, changed=["position"], at=at)
    return group


def dissolve(*, session: Session, group: Group, reason: str, at: datetime) -> Group:
    """End a group: memberships close, places held in it are cancelled, bots are told.
    The caller holds the community's group lock and the group's row."""
    if group.state == GroupState.dissolved:
        raise problems.GroupDissolved(group_id=group.id)
    released = session.execute(
        sa.update(GroupMembership)
        .where(col(GroupMembership.group_id) == group.id, col(GroupMembership.left_at).is_(None))
        .values(left_at=at)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.execute(
        sa.update(GroupAssignment)
        .where(
            col(GroupAssignment.group_id) == group.id,
            col(GroupAssignment.status) == AssignmentStatus.open,
        )
        .values(status=AssignmentStatus.cancelled, closed_at=at)
        .execution_options(synchronize_session=False)
    )
    group.state, group.dissolved_at = GroupState.dissolved, at
    session.add(group)
    announce_changed(session, group=group, changed=["state"], at=at)
    emit(
        session,
        GroupDissolved(
            group_id=group.id,
            community_id=group.community_id,
            platform=group.platform,
            external_id=group.external_id,
            name=group.name,
            kind=group.kind,
            reason=reason,
            members_released=released,
            dissolved_at=at,
        ),
        community_id=group.community_id,
        workspace_id=group.workspace_id,
    )
    session.flush()
    return group


def dissolve_group(
    *, session: Session, community: Community, group_id: str, reason: str, at: datetime
) -> Group:
    """Dissolve one of the community's groups now, e.g. one long silent (DOMAIN.md rule 13)."""
    lock_community_groups(session, community_id=community.id)
    group = get_group(session=session, community=community, group_id=group_id, for_update=True)
    return dissolve(session=session, group=group, reason=reason, at=at)


def dissolve_due(session: Session, at: datetime) -> int:
    """Dissolve the temporary groups whose time has come (a periodic job)."""
    due = session.exec(
        select(Group.id, Group.community_id)
        .where(Group.state != GroupState.dissolved, col(Group.dissolve_at) <= at)
        .order_by(col(Group.dissolve_at))
        .limit(200)
    ).all()
    done = 0
    for group_id, community_id in due:
        lock_community_groups(
            session, community_id=community_id
        )  # the lock first, then the row: no deadlock
        group = session.exec(
            select(Group)
            .where(Group.id == group_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        if group.state == GroupState.dissolved or not group.dissolve_at or group.dissolve_at > at:
            continue  # an operator dissolved or rescheduled it meanwhile
        dissolve(session=session, group=group, reason="dissolve_at reached", at=at)
        done += 1
    return done
