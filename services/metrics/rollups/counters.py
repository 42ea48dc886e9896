"""Adding to one day's counters, and setting its end-of-day member total: the upserts every
fold shares. Adding is commutative, so folds may run in any order and still agree."""

from datetime import date

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from services.metrics.rollups.models import CommunityDay, GroupDay

_group_day = GroupDay.__table__  # type: ignore[attr-defined]
_community_day = CommunityDay.__table__  # type: ignore[attr-defined]


def add_to_community_day(
    session: Session,
    *,
    workspace_id: str,
    community_id: str,
    day: date,
    members_total: int | None = None,
    **deltas: int,
) -> None:
    """Add `deltas` (column → amount) to a community's day; set its member total if given."""
    table = _community_day
    statement = insert(table).values(
        workspace_id=workspace_id,
        community_id=community_id,
        day=day,
        members_total=members_total,
        **deltas,
    )
    updates = {name: table.c[name] + statement.excluded[name] for name in deltas}
    if members_total is not None:
        updates["members_total"] = statement.excluded.members_total
    session.execute(
        statement.on_conflict_do_update(index_elements=["community_id", "day"], set_=updates)
        if updates
        else statement.on_conflict_do_nothing()
    )


def add_to_group_day(
    session: Session,
    *,
    workspace_id: str,
    community_id: str,
    group_id: str,
    day: date,
    members_total: int | None = None,
    **deltas: int,
) -> None:
    """Add `deltas` to a group's day; set its member total if given."""
    table = _group_day
    statement = insert(table).values(
        workspace_id=workspace_id,
        community_id=community_id,
        group_id=group_id,
        day=day,
        members_total=members_total,
        **deltas,
    )
    updates = {name: table.c[name] + statement.excluded[name] for name in deltas}
    if members_total is not None:
        updates["members_total"] = statement.excluded.members_total
    session.execute(
        statement.on_conflict_do_update(index_elements=["group_id", "day"], set_=updates)
        if updates
        else statement.on_conflict_do_nothing()
    )
