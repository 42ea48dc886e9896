"""Endpoints and their messages: creating, changing, rotating secrets, pinging, reading the
delivery log, and requeueing. No HTTP here; callers commit."""

import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from gateway.signatures import SECRET_PREFIX, new_secret
from gateway.webhooks import catalog, ssrf
from gateway.webhooks.models import (
    EndpointCreate,
    EndpointUpdate,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
)
from gateway.webhooks.settings import Network
from gateway.webhooks.signing import structured_body
from services.common.cloudevents import CloudEvent
from services.common.ids import new_id

PING_SOURCE = "/qunyun/gateway/webhooks"


class InvalidEndpoint(ValueError):
    """An endpoint field we refuse; `field` names it for a 422."""

    def __init__(self, field: str, message: str, slug: str = "validation-error"):
        super().__init__(message)
        self.field, self.slug = field, slug


def valid_secret(secret: str | None) -> str:
    """The given `whsec_` secret if it holds 24 to 64 bytes, or a fresh one."""
    if secret is None:
        return new_secret()
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as exc:
        raise InvalidEndpoint("secret", "not a whsec_<base64> secret") from exc
    if not secret.startswith(SECRET_PREFIX) or not 24 <= len(key) <= 64:
        raise InvalidEndpoint("secret", "a whsec_ secret of 24 to 64 random bytes")
    return secret


def _check(url: str | None, event_types: list[str] | None, allowed: list[Network]) -> None:
    if url is not None:
        try:
            ssrf.checked_address(url, allowed)
        except ssrf.DestinationRefused as exc:
            raise InvalidEndpoint("url", str(exc), "destination-refused") from exc
    if event_types is not None and (unknown := catalog.unknown_patterns(event_types)):
        raise InvalidEndpoint("event_types", f"no event type matches {', '.join(unknown)}")


def create_endpoint(
    session: Session,
    *,
    workspace_id: str,
    data: EndpointCreate,
    allowed_networks: list[Network],
    integration_id: str | None = None,
) -> WebhookEndpoint:
    """A new endpoint, after its URL passed the destination guard."""
    _check(data.url, data.event_types, allowed_networks)
    endpoint = WebhookEndpoint(
        id=new_id("whe"),
        workspace_id=workspace_id,
        secret=valid_secret(data.secret),
        integration_id=integration_id,
        **data.model_dump(exclude={"secret"}),
    )
    session.add(endpoint)
    return endpoint


def get_endpoint(
    session: Session, *, workspace_id: str, endpoint_id: str
) -> WebhookEndpoint | None:
    return session.exec(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.workspace_id == workspace_id
        )
    ).one_or_none()


def list_endpoints_query(*, workspace_id: str) -> Any:
    return select(WebhookEndpoint).where(WebhookEndpoint.workspace_id == workspace_id)


def update_endpoint(
    session: Session,
    *,
    endpoint: WebhookEndpoint,
    data: EndpointUpdate,
    allowed_networks: list[Network],
) -> WebhookEndpoint:
    """Change what is given; re-enabling clears the failure record (redeliver separately)."""
    changes = data.model_dump(exclude_unset=True)
    for name in ("url", "description", "event_types", "ordered", "active"):
        if name in changes and changes[name] is None:
            raise InvalidEndpoint(name, "may be changed, not removed")
    _check(changes.get("url"), changes.get("event_types"), allowed_networks)
    if changes.get("active") and not endpoint.active:
        endpoint.failing_since = endpoint.disabled_at = endpoint.disabled_reason = None
    if changes.get("active") is False and endpoint.active:
        disable(session, endpoint=endpoint, reason="manual", now=datetime.now(UTC))
        changes.pop("active")
    for name, value in changes.items():
        setattr(endpoint, name, value)
    session.add(endpoint)
    return endpoint


def disable(session: Session, *, endpoint: WebhookEndpoint, reason: str, now: datetime) -> int:
    """Stop delivering to the endpoint; what it still had queued is marked failed, so it can
    be redelivered once the endpoint is fixed. Returns how many messages that was."""
    endpoint.active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason
    session.add(endpoint)
    result = session.execute(
        sa.update(WebhookMessage)
        .where(
            col(WebhookMessage.endpoint_id) == endpoint.id, col(WebhookMessage.state) == "pending"
        )
        .values(state="failed", finished_at=now, leased_until=None, last_error="endpoint disabled")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_endpoint(session: Session, *, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint with its queue and delivery log (cascaded by the database)."""
    session.execute(sa.delete(WebhookEndpoint).where(col(WebhookEndpoint.id) == endpoint.id))


def rotate_secret(
    session: Session,
    *,
    endpoint: WebhookEndpoint,
    secret: str | None,
    overlap: timedelta,
    now: datetime,
) -> WebhookEndpoint:
    """A new signing secret; the old one keeps signing, beside it, for the overlap."""
    new = valid_secret(secret)
    if overlap > timedelta(0):
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + overlap
    else:
        endpoint.previous_secret = endpoint.previous_secret_expires_at = None
    endpoint.secret = new
    session.add(endpoint)
    return endpoint


def enqueue_ping(session: Session, *, endpoint: WebhookEndpoint, now: datetime) -> WebhookMessage:
    """Queue a test event for the endpoint, delivered and signed like any other."""
    event = CloudEvent(
        type=catalog.PING_TYPE,
        source=PING_SOURCE,
        workspaceid=endpoint.workspace_id,
        subject=endpoint.id,
        data={"endpoint_id": endpoint.id, "sent_at": now.isoformat()},
        time=now,
    )
    message = WebhookMessage(
        id=new_id("whm"),
        endpoint_id=endpoint.id,
        workspace_id=endpoint.workspace_id,
        event_id=event.id,
        event_type=event.type,
        ordering_key=event.id,  # a ping waits for nothing
        event_time=now,
        body=structured_body(event),
        next_attempt_at=now,
    )
    session.add(message)
    return message


def messages_query(*, endpoint_id: str, state: str | None, since: datetime | None) -> Any:
    query = select(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint_id)
    if state:
        query = query.where(WebhookMessage.state == state)
    if since:
        query = query.where(WebhookMessage.created_at >= since)
    return query


def get_message(session: Session, *, endpoint_id: str, message_id: str) -> WebhookMessage | None:
    return session.exec(
        select(WebhookMessage).where(
            WebhookMessage.id == message_id, WebhookMessage.endpoint_id == endpoint_id
        )
    ).one_or_none()


def attempts_query(*, message_id: str) -> Any:
    """A message's attempts, for a page in id (time) order."""
    return select(WebhookAttempt).where(WebhookAttempt.message_id == message_id)


def redeliver(session: Session, *, message: WebhookMessage, now: datetime) -> WebhookMessage:
    """Queue a message again, whatever became of it, with a fresh retry schedule."""
    message.state = "pending"
    message.attempts = 0
    message.next_attempt_at = now
    message.leased_until = message.finished_at = None
    session.add(message)
    return message


def redeliver_failed(session: Session, *, endpoint_id: str, since: datetime, now: datetime) -> int:
    """Queue again every failed message of the endpoint queued at or after `since`."""
    result = session.execute(
        sa.update(WebhookMessage)
        .where(
            col(WebhookMessage.endpoint_id) == endpoint_id,
            col(WebhookMessage.state) == "failed",
            col(WebhookMessage.created_at) >= since,
        )
        .values(
            state="pending", attempts=0, next_attempt_at=now, leased_until=None, finished_at=None
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
