"""Violations of a community's rules by kind, per group and community day."""

from datetime import date

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from services.metrics.rollups.counters import add_to_community_day, add_to_group_day
from services.metrics.rollups.models import ViolationDay

_violation_day = ViolationDay.__table__  # type: ignore[attr-defined]

# A violation in a group metrics does not know is still the community's.
NO_GROUP = ""


def count_violation(
    session: Session,
    *,
    workspace_id: str,
    community_id: str,
    group_id: str | None,
    day: date,
    kinds: list[str],
) -> None:
    """One violation: once in the day's totals, once under each kind it was."""
    for kind in sorted(set(kinds)) or ["unspecified"]:
        statement = insert(_violation_day).values(
            community_id=community_id, group_id=group_id or NO_GROUP, day=day, kind=kind, count=1
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["community_id", "group_id", "day", "kind"],
                set_={"count": _violation_day.c.count + 1},
            )
        )
    add_to_community_day(
        session, workspace_id=workspace_id, community_id=community_id, day=day, violations=1
    )
    if group_id:
        add_to_group_day(
            session,
            workspace_id=workspace_id,
            community_id=community_id,
            group_id=group_id,
            day=day,
            violations=1,
        )
