"""Remembering what was ingested: one set-based statement per batch claims every item's seen
key (`fingerprints.seen_key`), and tells which were new; a periodic prune forgets what is
older than 8 days."""

from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlmodel import Session

# The promise is 7 days; a day more, so an item re-sent right at the edge is still caught.
REMEMBERED_FOR = timedelta(days=8)

KEY_BYTES = 16

# The keys go in as one byte string, 16 bytes each, and the new ones come back as one: a
# Python list bound to a `uuid[]` is dumped element by element in Python, and a `Row` made of
# each returned row. Keyed by 16 bytes rather than the identity's four texts, Postgres spends
# half the CPU a row (7.5 µs rather than 15 with 500-row batches): a narrower primary key to
# search and fill, and no JSON to read.
_CLAIM = sa.text(
    """
    WITH claimed AS (
        INSERT INTO ingest_seen (key, workspace_id, seen_at)
        SELECT CAST(encode(substring(:keys FROM i FOR 16), 'hex') AS uuid), :workspace_id, :now
        FROM generate_series(1, length(:keys), 16) AS i
        ORDER BY i
        ON CONFLICT DO NOTHING
        RETURNING key
    )
    SELECT string_agg(uuid_send(key), ''::bytea) FROM claimed
    """
)


def claim(
    session: Session | Connection, *, workspace_id: str, keys: Iterable[bytes], now: datetime
) -> set[bytes]:
    """Record each seen key not seen before; returns those that were new. The keys are the
    workspace's own (its id is part of what they hash), so no other workspace's items can
    count against them.

    A claim made by a transaction still open elsewhere makes this one wait for its outcome:
    committed, the key is a duplicate here; rolled back (its batch never reached Kafka), it is
    new here. Keys are claimed in sorted order, so two batches sharing several wait for each
    other instead of deadlocking."""
    ordered = sorted(set(keys))
    if not ordered:
        return set()
    claimed = session.execute(
        _CLAIM, {"workspace_id": workspace_id, "now": now, "keys": b"".join(ordered)}
    ).scalar_one()
    claimed = bytes(claimed or b"")
    return {claimed[at : at + KEY_BYTES] for at in range(0, len(claimed), KEY_BYTES)}


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
