"""Parking events that name a group or community the replicas do not know yet, and taking
them back when it arrives.

Topics have no order between them: chat (`qunyun.ingest.messages.v1`) and activity
(`qunyun.activities.v1`) may reach metrics before the members' events (`qunyun.members.v1`)
that register their group or community. Such an event is parked here, keyed by what it
waits on; the handler that registers that group or community takes it back in its own
transaction and folds it. What is never registered expires after a retention.

A race between the two transactions is closed by an advisory lock per workspace: whoever
parks holds it shared from before its last look at the replicas until its commit; whoever
registers a group or community holds it exclusively before it takes parked events. So either
the parker sees the new group, or the registrar sees the parked event. The lock is taken only
when something is about to be parked, never on the path of a matched event.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlmodel import Session

from services.common.cloudevents import CloudEvent

# The first key of the two-key advisory locks taken here ("Park" in ASCII); the second is
# the workspace's hash. Two-key locks never collide with the kit's one-key job locks.
_LOCK_CLASS = 0x5061726B


def hold_workspaces(session: Session, workspace_ids: Iterable[str], *, exclusive: bool) -> None:
    """Take the parking lock of each workspace until the transaction ends, in sorted order so
    two transactions never wait on each other's second lock."""
    names = sorted(set(workspace_ids))
    if not names:
        return
    lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    session.execute(
        sa.text(
            f"SELECT count({lock}(:cls, hashtext(w))) FROM "
            "(SELECT w FROM unnest(CAST(:names AS text[])) AS w ORDER BY w) AS s"
        ),
        {"cls": _LOCK_CLASS, "names": names},
    )


def _stored(event: CloudEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "source": event.source,
        "workspaceid": event.workspaceid,
        "communityid": event.communityid,
        "subject": event.subject,
        "time": event.time.isoformat(),
        "data": event.data,
    }


def _event(stored: dict[str, Any]) -> CloudEvent:
    return CloudEvent(
        id=stored["id"],
        type=stored["type"],
        source=stored["source"],
        workspaceid=stored["workspaceid"],
        communityid=stored["communityid"],
        subject=stored["subject"],
        time=datetime.fromisoformat(stored["time"]),
        data=stored["data"],
    )


def park_messages(session: Session, *, waiting: Sequence[tuple[CloudEvent, str, str]]) -> set[str]:
    """Park events (chat, joins and leaves), each with the (platform, group external id) it
    waits on, in one statement; returns the ids parked now (an id parked already stays)."""
    if not waiting:
        return set()
    rows = [
        {
            "i": event.id,
            "w": event.workspaceid,
            "t": event.type,
            "p": platform,
            "x": external_id,
            "e": _stored(event),
        }
        for event, platform, external_id in sorted(waiting, key=lambda w: w[0].id)
    ]
    parked = session.execute(
        sa.text(
            "INSERT INTO parked_event "
            "(event_id, workspace_id, event_type, platform, group_external_id, event) "
            "SELECT i, w, t, p, x, e FROM json_to_recordset(CAST(:rows AS json)) "
            "AS r(i text, w text, t text, p text, x text, e jsonb) "
            "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        ),
        {"rows": orjson.dumps(rows).decode()},
    )
    return {row[0] for row in parked}


def park_on_group(session: Session, *, event: CloudEvent, platform: str, external_id: str) -> bool:
    """Park one event until its group (by the bot's names for it) is known; False when it
    was parked already."""
    return bool(park_messages(session, waiting=[(event, platform, external_id)]))


def park_event(session: Session, *, event: CloudEvent, community_id: str) -> bool:
    """Park an event until its community is known; False when it was parked already."""
    parked = session.execute(
        sa.text(
            "INSERT INTO parked_event (event_id, workspace_id, event_type, community_id, event) "
            "VALUES (:i, :w, :t, :c, CAST(:e AS jsonb)) "
            "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        ),
        {
            "i": event.id,
            "w": event.workspaceid,
            "t": event.type,
            "c": community_id,
            "e": orjson.dumps(_stored(event)).decode(),
        },
    ).first()
    return parked is not None


def take_group_events(
    session: Session,
    *,
    workspace_id: str,
    group_id: str | None = None,
    community_id: str | None = None,
) -> list[CloudEvent]:
    """Delete and return what was parked on groups of `workspace_id` (chat, joins and leaves)
    that the replicas now know with their community, narrowed to one group or to one
    community's groups; in the order they happened."""
    where = ["g.workspace_id = :w"]
    if group_id is not None:
        where.append("g.group_id = :g")
    if community_id is not None:
        where.append("g.community_id = :c")
    rows = session.execute(
        sa.text(
            "DELETE FROM parked_event p USING chat_group g "
            "JOIN community c ON c.community_id = g.community_id "
            f"WHERE {' AND '.join(where)} AND p.workspace_id = g.workspace_id "
            "AND p.platform = g.platform AND p.group_external_id = g.external_id "
            "RETURNING p.event"
        ),
        {"w": workspace_id, "g": group_id, "c": community_id},
    )
    return sorted((_event(row[0]) for row in rows), key=lambda e: (e.time, e.id))


def take_community_events(session: Session, *, community_id: str) -> list[CloudEvent]:
    """Delete and return the events parked on `community_id`, in the order they happened."""
    rows = session.execute(
        sa.text(
            "DELETE FROM parked_event WHERE community_id = :c "
            "AND EXISTS (SELECT 1 FROM community WHERE community_id = :c) RETURNING event"
        ),
        {"c": community_id},
    )
    return sorted((_event(row[0]) for row in rows), key=lambda e: (e.time, e.id))


def expire_parked(session: Session, *, now: datetime, retention: timedelta) -> dict[str, int]:
    """Delete what was parked before `now - retention`; how many, by event type."""
    rows = session.execute(
        sa.text(
            "WITH gone AS (DELETE FROM parked_event WHERE parked_at < :before "
            "RETURNING event_type) SELECT event_type, count(*) FROM gone GROUP BY event_type"
        ),
        {"before": now - retention},
    )
    return {row[0]: row[1] for row in rows}


def parked_counts(session: Session) -> dict[str, int]:
    """How many events wait now, by event type."""
    rows = session.execute(
        sa.text("SELECT event_type, count(*) FROM parked_event GROUP BY event_type")
    )
    return {row[0]: row[1] for row in rows}
