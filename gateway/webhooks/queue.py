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
# endpoint; each endpoint gets at most its free chains (one request in flight each, counted
# across replicas as the ordering keys with leased messages); at most :chains in all. Each
# chosen key brings up to :depth of its pending messages, in order: the dispatcher sends
# them one after the other, so a busy community costs one claim per :depth deliveries, not
# one each. The outer WHERE re-checks the lease, so two replicas never claim one message.
_CLAIM = sa.text(
    """
WITH heads AS (
    SELECT DISTINCT ON (endpoint_id, ordering_key)
           endpoint_id, ordering_key, seq, next_attempt_at, leased_until
    FROM webhook_message
    WHERE state = 'pending'
    ORDER BY endpoint_id, ordering_key, seq
),
busy AS (
    SELECT endpoint_id, count(DISTINCT ordering_key) AS n FROM webhook_message
    WHERE state = 'pending' AND leased_until > now()
    GROUP BY endpoint_id
),
ranked AS (
    SELECT h.endpoint_id, h.ordering_key, h.next_attempt_at, h.seq,
           row_number() OVER (PARTITION BY h.endpoint_id ORDER BY h.next_attempt_at, h.seq) AS rank
    FROM heads h
    WHERE h.next_attempt_at <= now() AND (h.leased_until IS NULL OR h.leased_until <= now())
),
keys AS (
    SELECT r.endpoint_id, r.ordering_key, r.seq FROM ranked r
    JOIN webhook_endpoint e ON e.id = r.endpoint_id AND e.active
    LEFT JOIN busy b ON b.endpoint_id = r.endpoint_id
    WHERE r.rank <= :per_endpoint - coalesce(b.n, 0)
    ORDER BY r.next_attempt_at, r.seq
    LIMIT :chains
),
picked AS (
    SELECT c.id FROM keys k CROSS JOIN LATERAL (
        SELECT m.id FROM webhook_message m
        WHERE m.endpoint_id = k.endpoint_id AND m.ordering_key = k.ordering_key
          AND m.state = 'pending' AND m.seq >= k.seq
        ORDER BY m.seq
        LIMIT :depth
    ) c
)
UPDATE webhook_message m
SET leased_until = now() + make_interval(secs => :lease)
FROM picked, webhook_endpoint e
WHERE m.id = picked.id AND e.id = m.endpoint_id AND m.state = 'pending'
  AND (m.leased_until IS NULL OR m.leased_until <= now())
RETURNING m.id, m.endpoint_id, m.workspace_id, m.event_id, m.event_time, m.body, m.attempts,
          m.ordering_key, m.seq, e.url, e.secret, e.previous_secret,
          e.previous_secret_expires_at, e.rate_limit_per_second
"""
)


def claim(
    conn: Connection, *, chains: int, per_endpoint: int, depth: int, lease_seconds: float
) -> list[list[Job]]:
    """Lease up to `chains` queues' next messages (up to `depth` each) to this replica: a
    list of chains, each in the order its messages must be sent."""
    rows = conn.execute(
        _CLAIM,
        {"chains": chains, "per_endpoint": per_endpoint, "depth": depth, "lease": lease_seconds},
    ).all()
    found: dict[tuple[str, str], list[tuple[int, Job]]] = defaultdict(list)
    for r in rows:
        found[(r.endpoint_id, r.ordering_key)].append(
            (
                r.seq,
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
                ),
            )
        )
    return [[job for _, job in sorted(chain, key=_by_seq)] for chain in found.values()]


def _by_seq(item: tuple[int, Job]) -> int:
    return item[0]


def release(conn: Connection, message_ids: list[str]) -> None:
    """Give back leased messages that were not sent (a chain stopped at a failure): the next
    claim takes them, after their queue's failed head."""
    conn.execute(_RELEASE, {"ids": message_ids})


_RELEASE = sa.text(
    "UPDATE webhook_message SET leased_until = NULL "
    "WHERE id = ANY(CAST(:ids AS text[])) AND state = 'pending'"
)


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
