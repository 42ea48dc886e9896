"""Remembering what was ingested: one set-based statement per batch claims every item's
identity, and tells which were new; a periodic prune forgets what is older than 8 days."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NamedTuple

import orjson
import sqlalchemy as sa
from sqlmodel import Session

# The promise is 7 days; a day more, so an item re-sent right at the edge is still caught.
REMEMBERED_FOR = timedelta(days=8)


class Identity(NamedTuple):
    """What makes two items the same one, within a workspace."""

    platform: str
    kind: str  # `message`, `group_member_joined`, `group_member_left`
    external_id: str


# The identities go in as one JSON document and the new ones come back as one: psycopg dumps
# a Python list into a Postgres array element by element in Python, and SQLAlchemy makes a
# `Row` of each returned row, together 10 µs a message, half the cost of a chat message's
# validation, records and ids; orjson does both ends in well under one.
_CLAIM = sa.text(
    """
    WITH claimed AS (
        INSERT INTO ingest_seen (workspace_id, platform, kind, external_id, seen_at)
        SELECT :workspace_id, c.p, c.k, c.e, :now
        FROM ROWS FROM (json_to_recordset(CAST(:identities AS json)) AS (p text, k text, e text))
            WITH ORDINALITY AS c(p, k, e, n)
        ORDER BY c.n
        ON CONFLICT DO NOTHING
        RETURNING platform, kind, external_id
    )
    SELECT CAST(coalesce(json_agg(json_build_array(platform, kind, external_id)), '[]') AS text)
    FROM claimed
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
    document = orjson.dumps([{"p": p, "k": k, "e": e} for p, k, e in ordered]).decode()
    claimed = session.execute(
        _CLAIM, {"workspace_id": workspace_id, "now": now, "identities": document}
    ).scalar_one()
    return {Identity(*row) for row in orjson.loads(claimed)}


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
