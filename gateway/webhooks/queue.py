"""The delivery queue in the gateway's database: messages in from Kafka events, claimed in
order under a lease, and the results of attempts written back in batches.

Ordering: an ordered endpoint's messages share an ordering key per community, an unordered
endpoint's each have their own; only the lowest pending message of a key may be in flight,
so a failing message holds back its community on its endpoint and nothing else.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from gateway.webhooks import catalog
from gateway.webhooks.delivery import Job
from gateway.webhooks.models import WebhookEndpoint, WebhookMessage
from gateway.webhooks.signing import structured_body
from services.common.cloudevents import CloudEvent
from services.common.ids import new_id

endpoint_t = WebhookEndpoint.__table__  # type: ignore[attr-defined]
message_t = WebhookMessage.__table__  # type: ignore[attr-defined]


def queue_events(conn: Connection, events: Iterable[CloudEvent], now: datetime) -> int:
    """A message for each event and each active endpoint of its workspace that wants it.
    A redelivered event queues nothing new (unique endpoint and event id)."""
    events = list(events)
    workspaces = {e.workspaceid for e in events}
    if not workspaces:
        return 0
    endpoints: dict[str, list[Any]] = defaultdict(list)
    for row in conn.execute(
        sa.select(
            endpoint_t.c.id,
            endpoint_t.c.workspace_id,
            endpoint_t.c.event_types,
            endpoint_t.c.community_ids,
            endpoint_t.c.ordered,
        ).where(endpoint_t.c.active, endpoint_t.c.workspace_id.in_(workspaces))
    ):
        endpoints[row.workspace_id].append(row)
    rows: dict[str, list[Any]] = defaultdict(list)
    for event in events:
        body = None
        for endpoint in endpoints.get(event.workspaceid, ()):
            if not catalog.matches(endpoint.event_types, event.type):
                continue
            if (
                endpoint.community_ids is not None
                and event.communityid not in endpoint.community_ids
            ):
                continue
            body = body or structured_body(event)
            message_id = new_id("whm")
            rows["id"].append(message_id)
            rows["endpoint_id"].append(endpoint.id)
            rows["workspace_id"].append(event.workspaceid)
            rows["event_id"].append(event.id)
            rows["event_type"].append(event.type)
            rows["community_id"].append(event.communityid)
            rows["ordering_key"].append(
                (event.communityid or "-") if endpoint.ordered else message_id
            )
            rows["event_time"].append(event.time)
            rows["body"].append(body)
    if not rows:
        return 0
    queued = conn.execute(_QUEUE, {**rows, "now": now}).all()
    return len(queued)


# One statement for a whole batch: arrays in, unnested in SQL. Rows are inserted in the
# arrays' order (ORDER BY the ordinality), so `seq` keeps the events' order within a
# partition. A redelivered event queues nothing new (unique endpoint and event id).
_QUEUE = sa.text(
    """
INSERT INTO webhook_message
    (id, endpoint_id, workspace_id, event_id, event_type, community_id, ordering_key,
     event_time, body, state, attempts, next_attempt_at, created_at)
SELECT u.id, u.endpoint_id, u.workspace_id, u.event_id, u.event_type, u.community_id,
       u.ordering_key, u.event_time, u.body, 'pending', 0, :now, :now
FROM unnest(
    CAST(:id AS text[]), CAST(:endpoint_id AS text[]), CAST(:workspace_id AS text[]),
    CAST(:event_id AS text[]), CAST(:event_type AS text[]), CAST(:community_id AS text[]),
    CAST(:ordering_key AS text[]), CAST(:event_time AS timestamptz[]), CAST(:body AS bytea[]))
    WITH ORDINALITY AS u(id, endpoint_id, workspace_id, event_id, event_type, community_id,
                         ordering_key, event_time, body, n)
ORDER BY u.n
ON CONFLICT ON CONSTRAINT uq_webhook_message_event DO NOTHING
RETURNING id
"""
)


# Heads of every (endpoint, ordering key) queue that are due and not in flight, ranked per
# endpoint; each endpoint gets at most its free in-flight slots; the whole claim at most
# :limit. The outer WHERE re-checks the lease, so two replicas never claim one message.
_CLAIM = sa.text(
    """
WITH heads AS (
    SELECT DISTINCT ON (endpoint_id, ordering_key)
           id, endpoint_id, seq, next_attempt_at, leased_until
    FROM webhook_message
    WHERE state = 'pending'
    ORDER BY endpoint_id, ordering_key, seq
),
busy AS (
    SELECT endpoint_id, count(*) AS n FROM webhook_message
    WHERE state = 'pending' AND leased_until > now()
    GROUP BY endpoint_id
),
ranked AS (
    SELECT h.id, h.endpoint_id, h.next_attempt_at, h.seq,
           row_number() OVER (PARTITION BY h.endpoint_id ORDER BY h.next_attempt_at, h.seq) AS rank
    FROM heads h
    WHERE h.next_attempt_at <= now() AND (h.leased_until IS NULL OR h.leased_until <= now())
),
picked AS (
    SELECT r.id FROM ranked r
    JOIN webhook_endpoint e ON e.id = r.endpoint_id AND e.active
    LEFT JOIN busy b ON b.endpoint_id = r.endpoint_id
    WHERE r.rank <= :per_endpoint - coalesce(b.n, 0)
    ORDER BY r.next_attempt_at, r.seq
    LIMIT :limit
)
UPDATE webhook_message m
SET leased_until = now() + make_interval(secs => :lease)
FROM picked, webhook_endpoint e
WHERE m.id = picked.id AND e.id = m.endpoint_id AND m.state = 'pending'
  AND (m.leased_until IS NULL OR m.leased_until <= now())
RETURNING m.id, m.endpoint_id, m.workspace_id, m.event_id, m.event_time, m.body, m.attempts,
          e.url, e.secret, e.previous_secret, e.previous_secret_expires_at,
          e.rate_limit_per_second
"""
)


def claim(conn: Connection, *, limit: int, per_endpoint: int, lease_seconds: float) -> list[Job]:
    """Lease up to `limit` deliverable messages to this replica."""
    rows = conn.execute(
        _CLAIM, {"limit": limit, "per_endpoint": per_endpoint, "lease": lease_seconds}
    ).all()
    return [
        Job(
            message_id=r.id,
            endpoint_id=r.endpoint_id,
            workspace_id=r.workspace_id,
            event_id=r.event_id,
            event_time=r.event_time,
            body=bytes(r.body),
            attempts=r.attempts,
            url=r.url,
            secret=r.secret,
            previous_secret=r.previous_secret,
            previous_secret_expires_at=r.previous_secret_expires_at,
            rate_limit_per_second=r.rate_limit_per_second,
        )
        for r in rows
    ]


_DEPTH = sa.text(
    """
SELECT CASE WHEN e.failing_since IS NULL THEN 'healthy' ELSE 'failing' END AS state,
       count(*) AS depth, min(m.created_at) AS oldest
FROM webhook_message m JOIN webhook_endpoint e ON e.id = m.endpoint_id
WHERE m.state = 'pending'
GROUP BY 1
"""
)


def depth(conn: Connection) -> dict[str, tuple[int, float]]:
    """Pending messages and the oldest one's age, by endpoint state."""
    now = datetime.now(UTC)
    return {r.state: (int(r.depth), (now - r.oldest).total_seconds()) for r in conn.execute(_DEPTH)}


def prune(conn: Connection, *, before: datetime) -> int:
    """Forget finished messages (and, cascaded, their attempts) older than the retention."""
    result = conn.execute(
        message_t.delete().where(
            message_t.c.finished_at.is_not(None), message_t.c.finished_at < before
        )
    )
    return int(result.rowcount)
