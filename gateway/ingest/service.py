"""Remembering what was ingested: one set-based statement per batch claims every item's
identity, and tells which were new; a periodic prune forgets what is older than 8 days."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

# The promise is 7 days; a day more, so an item re-sent right at the edge is still caught.
REMEMBERED_FOR = timedelta(days=8)


class Identity(NamedTuple):
    """What makes two items the same one, within a workspace."""

    platform: str
    kind: str  # `message`, `group_member_joined`, `group_member_left`
    external_id: str


_CLAIM = sa.text(
    """
    INSERT INTO ingest_seen (workspace_id, platform, kind, external_id, seen_at)
    SELECT :workspace_id, platform, kind, external_id, :now
    FROM unnest(CAST(:platforms AS text[]), CAST(:kinds AS text[]), CAST(:external_ids AS text[]))
        AS claimed(platform, kind, external_id)
    ON CONFLICT DO NOTHING
    RETURNING platform, kind, external_id
    """
)


def claim(
    session: Session, *, workspace_id: str, identities: Iterable[Identity], now: datetime
) -> set[Identity]:
    """Record each identity not seen before in the workspace; returns those that were new.

    A claim made by a transaction still open elsewhere makes this one wait for its outcome:
    committed, the identity is a duplicate here; rolled back (its batch never reached Kafka),
    it is new here. Identities are claimed in sorted order, so two batches sharing several
    wait for each other instead of deadlocking."""
    ordered = sorted(set(identities))
    if not ordered:
        return set()
    rows = session.execute(
        _CLAIM,
        {
            "workspace_id": workspace_id,
            "now": now,
            "platforms": [i.platform for i in ordered],
            "kinds": [i.kind for i in ordered],
            "external_ids": [i.external_id for i in ordered],
        },
    )
    return {Identity(*row) for row in rows}


# One DELETE takes at most this many rows, and one pass at most `PRUNE_BATCHES` of them: an
# hour of bulk imports at full rate is tens of millions of rows, which one statement would
# delete in one long, WAL-flooding sweep, holding its locks to the end. Bounded, a pass lasts
# about a second, and the job runs each minute (`gateway.app`), up to 6 million rows an hour.
PRUNE_BATCH = 10_000
PRUNE_BATCHES = 10

_PRUNE = sa.text(
    """
    DELETE FROM ingest_seen
    WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM ingest_seen WHERE seen_at < :cutoff ORDER BY seen_at LIMIT :batch
    ))
    """
)


def prune_seen(
    session: Session, now: datetime, *, batch: int = PRUNE_BATCH, batches: int = PRUNE_BATCHES
) -> int:
    """Forget identities claimed more than `REMEMBERED_FOR` ago, oldest first, `batch` rows a
    statement and at most `batches` statements (what is left waits for the next pass);
    returns how many."""
    cutoff = now - REMEMBERED_FOR
    forgotten = 0
    for _ in range(batches):
        result = session.execute(_PRUNE, {"cutoff": cutoff, "batch": batch})
        deleted = int(getattr(result, "rowcount", 0) or 0)
        forgotten += deleted
        if deleted < batch:
            break
    return forgotten
