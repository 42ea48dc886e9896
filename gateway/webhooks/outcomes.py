"""Writing attempts back: the attempt log, each message's next step (done, retry later,
failed), and each endpoint's health, which may disable it (410, or failing for too long) and
tell everyone through the outbox."""

import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlmodel import Session

from gateway.webhooks import service
from gateway.webhooks.delivery import Result
from gateway.webhooks.metrics import DELIVERY_LATENCY, ENDPOINTS_DISABLED
from gateway.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from gateway.webhooks.settings import WebhookSettings
from services.common import outbox
from services.common.contracts.webhooks import WebhookEndpointDisabled
from services.common.ids import new_id

SOURCE = "/qunyun/gateway/webhooks"
# However long a receiver asks us to wait, we try again within a day.
MAX_RETRY_AFTER_SECONDS = 86400.0

attempt_t = WebhookAttempt.__table__  # type: ignore[attr-defined]
message_t = WebhookMessage.__table__  # type: ignore[attr-defined]
endpoint_t = WebhookEndpoint.__table__  # type: ignore[attr-defined]


_INSERT_ATTEMPTS = sa.text(
    """
INSERT INTO webhook_attempt
    (id, message_id, endpoint_id, attempted_at, outcome, status_code, latency_ms,
     response_excerpt, error)
SELECT * FROM unnest(
    CAST(:attempt_id AS text[]), CAST(:id AS text[]), CAST(:endpoint_id AS text[]),
    CAST(:attempted_at AS timestamptz[]), CAST(:outcome AS text[]), CAST(:status AS int[]),
    CAST(:latency AS float8[]), CAST(:excerpt AS text[]), CAST(:attempt_error AS text[]))
"""
)

_UPDATE_MESSAGES = sa.text(
    """
UPDATE webhook_message m
SET state = u.state, attempts = u.attempts, next_attempt_at = u.next,
    finished_at = u.finished, leased_until = NULL, last_status_code = u.status,
    last_error = u.error
FROM unnest(
    CAST(:id AS text[]), CAST(:state AS text[]), CAST(:attempts AS int[]),
    CAST(:next AS timestamptz[]), CAST(:finished AS timestamptz[]), CAST(:status AS int[]),
    CAST(:error AS text[])) AS u(id, state, attempts, next, finished, status, error)
WHERE m.id = u.id AND m.state = 'pending'
"""
)


def next_delay(
    attempts_made: int, settings: WebhookSettings, retry_after: float | None
) -> float | None:
    """Seconds until the next attempt after `attempts_made` attempts, or None when the
    schedule is spent. Jittered; never sooner than the receiver's Retry-After."""
    delays = settings.retry_delays
    if attempts_made >= len(delays):
        return None
    jitter = settings.webhook_retry_jitter
    delay = delays[attempts_made] * (1 + random.uniform(-jitter, jitter))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def record(conn: Connection, results: Sequence[Result], settings: WebhookSettings) -> None:
    """Write a batch of attempts and their consequences in one transaction."""
    # An endpoint deleted while its messages were in flight took them along; their results
    # have nowhere to go. The lock keeps the rest from being deleted under us.
    alive = set(
        conn.execute(
            sa.select(message_t.c.id)
            .where(message_t.c.id.in_([r.job.message_id for r in results]))
            .with_for_update(key_share=True)
        ).scalars()
    )
    results = [r for r in results if r.job.message_id in alive]
    if not results:
        return
    now = datetime.now(UTC)
    columns: dict[str, list[object]] = defaultdict(list)
    for r in results:
        attempts = r.job.attempts + 1
        delay = (
            None
            if r.delivered or r.outcome == "gone"
            else next_delay(attempts, settings, r.retry_after)
        )
        done = r.delivered or delay is None
        columns["attempt_id"].append(new_id("wha"))
        columns["id"].append(r.job.message_id)
        columns["endpoint_id"].append(r.job.endpoint_id)
        columns["attempted_at"].append(r.attempted_at)
        columns["outcome"].append(r.outcome)
        columns["status"].append(r.status_code)
        columns["latency"].append(r.latency_ms)
        columns["excerpt"].append(r.response_excerpt)
        columns["attempt_error"].append(r.error)
        columns["state"].append("delivered" if r.delivered else ("failed" if done else "pending"))
        columns["attempts"].append(attempts)
        columns["next"].append(r.attempted_at + timedelta(seconds=delay or 0))
        columns["finished"].append(r.attempted_at if done else None)
        columns["error"].append(None if r.delivered else (r.error or f"HTTP {r.status_code}"))
        if r.delivered:
            DELIVERY_LATENCY.observe(max(0.0, (now - r.job.event_time).total_seconds()))
    # One statement each for the whole batch, however large: arrays in, unnest in SQL.
    conn.execute(_INSERT_ATTEMPTS, columns)
    conn.execute(_UPDATE_MESSAGES, columns)
    _endpoint_health(conn, results, settings)


def _endpoint_health(
    conn: Connection, results: Sequence[Result], settings: WebhookSettings
) -> None:
    by_endpoint: dict[str, list[Result]] = defaultdict(list)
    for r in sorted(results, key=lambda r: r.attempted_at):
        by_endpoint[r.job.endpoint_id].append(r)
    recovered, failing, gone = [], {}, {}
    for endpoint_id, rs in by_endpoint.items():
        if rs[-1].delivered:
            recovered.append(endpoint_id)
            continue
        if any(r.outcome == "gone" for r in rs):
            gone[endpoint_id] = next(r for r in rs if r.outcome == "gone")
        after = [r for r in rs if not r.delivered]
        if len(after) < len(rs):  # a success in the batch ends the earlier failing run
            last_ok = max(i for i, r in enumerate(rs) if r.delivered)
            after = rs[last_ok + 1 :]
            recovered.append(endpoint_id)
        failing[endpoint_id] = after[0].attempted_at
    if recovered:
        conn.execute(
            endpoint_t.update()
            .where(endpoint_t.c.id.in_(recovered), endpoint_t.c.failing_since.is_not(None))
            .values(failing_since=None)
        )
    if failing:
        conn.execute(
            endpoint_t.update()
            .where(endpoint_t.c.id == sa.bindparam("b_id"), endpoint_t.c.failing_since.is_(None))
            .values(failing_since=sa.bindparam("b_since")),
            [{"b_id": k, "b_since": v} for k, v in failing.items()],
        )
    now = datetime.now(UTC)
    cutoff = now - timedelta(seconds=settings.webhook_disable_after_seconds)
    worn_out = (
        conn.execute(
            sa.select(endpoint_t.c.id).where(
                endpoint_t.c.id.in_(list(failing)),
                endpoint_t.c.active,
                endpoint_t.c.failing_since < cutoff,
            )
        ).scalars()
        if failing
        else ()
    )
    to_disable = {endpoint_id: "gone" for endpoint_id in gone} | dict.fromkeys(worn_out, "failing")
    if to_disable:
        _disable(conn, to_disable, results, now)


def _disable(
    conn: Connection, reasons: dict[str, str], results: Sequence[Result], now: datetime
) -> None:
    last_status = {r.job.endpoint_id: r.status_code for r in results}
    with Session(bind=conn) as session:
        for endpoint_id, reason in reasons.items():
            endpoint = session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
            if endpoint is None or not endpoint.active:
                continue
            failing_since = endpoint.failing_since
            service.disable(session, endpoint=endpoint, reason=reason, now=now)
            outbox.emit(
                session,
                WebhookEndpointDisabled(
                    endpoint_id=endpoint.id,
                    url=endpoint.url,
                    reason=reason,
                    failing_since=failing_since,
                    last_status_code=last_status.get(endpoint_id),
                    disabled_at=now,
                ),
                source=SOURCE,
                workspace_id=endpoint.workspace_id,
                community_id=None,
                subject=endpoint.id,
            )
            ENDPOINTS_DISABLED.labels(reason).inc()
        session.flush()
