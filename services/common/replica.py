"""Replicas of members' communities and groups, kept by the services that read them.

`community.*` and `group.*` events carry the whole replicated state and the time it took
effect, so a replica writes the state as it comes and lets the newer one win: a replayed
event, or an older one arriving late, changes nothing. What each service stores besides
(its own columns, what it does once a group is known) stays with the service.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.contracts import (
    CommunityCreated,
    CommunityUpdated,
    EventData,
    GroupCreated,
    GroupDissolved,
    GroupUpdated,
)


class Replicated(NamedTuple):
    """One row's replicated state as an event tells it, and when that state took effect."""

    workspace_id: str
    id: str
    state: dict[str, Any]
    at: datetime


def community_of(event: CloudEvent) -> Replicated:
    """The state of a community from its `community.created` or `community.updated`."""
    data = EventData.of(event)
    assert isinstance(data, CommunityCreated | CommunityUpdated)
    at = data.created_at if isinstance(data, CommunityCreated) else data.updated_at
    state = {"name": data.name, "purpose": data.purpose, "timezone": data.timezone}
    return Replicated(event.workspaceid, data.community_id, state, at)


def group_of(event: CloudEvent, *, created_state: str) -> Replicated:
    """The state of a group from its `group.created`, `group.updated` or `group.dissolved`.
    A created group's state is the replica's own word for a new group (`created_state`);
    the event does not carry one."""
    data = EventData.of(event)
    assert isinstance(data, GroupCreated | GroupUpdated | GroupDissolved)
    state: dict[str, Any] = {
        "community_id": data.community_id,
        "platform": data.platform,
        "external_id": data.external_id,
        "name": data.name,
        "kind": data.kind,
    }
    if isinstance(data, GroupCreated):
        state["state"], at = created_state, data.created_at
    elif isinstance(data, GroupUpdated):
        state["state"], at = data.state, data.updated_at
    else:
        state["state"], at = "dissolved", data.dissolved_at
    return Replicated(event.workspaceid, data.group_id, state, at)


def upsert_newer(
    session: Session,
    table: Table,
    values: Mapping[str, Any],
    *,
    key: Sequence[str],
    stamp: str,
    overwrite: Iterable[str] | None = None,
) -> bool:
    """Insert a row, or overwrite the stored one unless its `stamp` column is newer than
    `values[stamp]`; whether the row was written. `overwrite` names the columns an update
    takes (all but the key when not given): the others keep what the first insert wrote."""
    statement = insert(table).values(**values)
    columns = [c for c in values if c not in key] if overwrite is None else list(overwrite)
    written = session.execute(
        statement.on_conflict_do_update(
            index_elements=list(key),
            set_={c: statement.excluded[c] for c in columns},
            where=table.c[stamp] <= statement.excluded[stamp],
        ).returning(*(table.c[k] for k in key))
    ).first()
    return written is not None


def link_identities(
    session: Session, table: Table, rows: Iterable[Mapping[str, Any]], *, key: Sequence[str]
) -> None:
    """Note which member each platform identity (`key`) is: the latest event wins, as a
    member joining with an identity takes it over from whoever had it before."""
    for row in rows:
        session.execute(
            insert(table)
            .values(**row)
            .on_conflict_do_update(index_elements=list(key), set_={"member_id": row["member_id"]})
        )


def relink_identities(session: Session, table: Table, *, merged_id: str, survivor_id: str) -> None:
    """A merged member's identities now speak for the survivor."""
    session.execute(
        table.update().where(table.c.member_id == merged_id).values(member_id=survivor_id)
    )
