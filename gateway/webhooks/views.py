"""Routes of outbound webhooks: `/v1/webhooks/...`. Delivery itself is the dispatcher's."""

import base64
import binascii
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlmodel import Session, col

from gateway.access.deps import CallerDep, require_scope
from gateway.webhooks import catalog, service
from gateway.webhooks.models import (
    AttemptPublic,
    EndpointCreate,
    EndpointCreated,
    EndpointPublic,
    EndpointUpdate,
    EventTypePublic,
    MessagePublic,
    PingQueued,
    Redelivery,
    RedeliveryQueued,
    SecretRotated,
    SecretRotation,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
)
from gateway.webhooks.settings import WebhookSettings
from services.common.http.idempotency import IdempotencyKey, fingerprint, run_once
from services.common.http.openapi import set_location
from services.common.http.pagination import (
    Page,
    PageParams,
    invalid_cursor,
    page_params,
    paginate,
)
from services.common.http.problems import Problem, field_problem, not_found

router = APIRouter(
    prefix="/v1/webhooks",
    tags=["webhooks"],
    dependencies=[Depends(require_scope("webhooks:manage"))],
)


def _session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


def _settings(request: Request) -> WebhookSettings:
    settings: WebhookSettings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(_session)]
SettingsDep = Annotated[WebhookSettings, Depends(_settings)]
PageDep = Annotated[PageParams, Depends(page_params)]


def _endpoint(session: Session, workspace_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = service.get_endpoint(session, workspace_id=workspace_id, endpoint_id=endpoint_id)
    if endpoint is None:
        raise not_found("webhook endpoint", endpoint_id)
    return endpoint


def _message(session: Session, endpoint_id: str, message_id: str) -> WebhookMessage:
    message = service.get_message(session, endpoint_id=endpoint_id, message_id=message_id)
    if message is None:
        raise not_found("webhook message", message_id)
    return message


def _refused(exc: service.InvalidEndpoint) -> Problem:
    return field_problem(exc.field, str(exc), exc.slug)


@router.get("/event-types", response_model=Page[EventTypePublic])
def list_event_types(caller: CallerDep, page: PageDep) -> Page[EventTypePublic]:
    """Every event type an endpoint can subscribe to, from the platform's contracts, by name."""
    listed = sorted(catalog.event_types().items())
    after = _type_after(page.cursor) if page.cursor else None
    rows = [item for item in listed if after is None or item[0] > after][: page.limit + 1]
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return Page(
        data=[
            EventTypePublic(type=name, topic=topic, description=doc) for name, (topic, doc) in rows
        ],
        next_cursor=_type_cursor(rows[-1][0]) if more else None,
    )


def _type_cursor(name: str) -> str:
    return base64.urlsafe_b64encode(b"type:" + name.encode()).decode().rstrip("=")


def _type_after(cursor: str) -> str:
    """The event type a cursor of this list ends at; any other cursor is a 400."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        name = raw.decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise invalid_cursor() from exc
    if not name.startswith("type:"):
        raise invalid_cursor()
    return name.removeprefix("type:")


@router.post("/endpoints", status_code=status.HTTP_201_CREATED, response_model=EndpointCreated)
def create_endpoint(
    body: EndpointCreate,
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Subscribe a URL to events. Its signing secret is in this answer only.

    A retry with the same `Idempotency-Key` gets the same endpoint and secret, not a second
    endpoint; the key with another body is a 422."""

    def create() -> tuple[int, EndpointCreated]:
        try:
            endpoint = service.create_endpoint(
                session,
                workspace_id=caller.workspace_id,
                data=body,
                allowed_networks=settings.allowed_networks,
            )
        except service.InvalidEndpoint as exc:
            raise _refused(exc) from exc
        return 201, EndpointCreated.model_validate(endpoint, from_attributes=True)

    response = run_once(
        session,
        workspace_id=caller.workspace_id,
        key=idempotency_key,
        request_fingerprint=fingerprint("POST /v1/webhooks/endpoints", body),
        create=create,
    )
    set_location(response, f"/v1/webhooks/endpoints/{json.loads(bytes(response.body))['id']}")
    return response


@router.get("/endpoints", response_model=Page[EndpointPublic])
def list_endpoints(caller: CallerDep, session: SessionDep, page: PageDep) -> Page[EndpointPublic]:
    rows, cursor = paginate(
        session,
        service.list_endpoints_query(workspace_id=caller.workspace_id),
        col(WebhookEndpoint.id),
        page,
    )
    return Page(
        data=[EndpointPublic.model_validate(r, from_attributes=True) for r in rows],
        next_cursor=cursor,
    )


@router.get("/endpoints/{endpoint_id}", response_model=EndpointPublic)
def get_endpoint(endpoint_id: str, caller: CallerDep, session: SessionDep) -> EndpointPublic:
    endpoint = _endpoint(session, caller.workspace_id, endpoint_id)
    return EndpointPublic.model_validate(endpoint, from_attributes=True)


@router.patch("/endpoints/{endpoint_id}", response_model=EndpointPublic)
def update_endpoint(
    endpoint_id: str,
    body: EndpointUpdate,
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
) -> EndpointPublic:
    """Change an endpoint. `active: true` re-enables a disabled one; its failed messages stay
    failed until redelivered."""
    endpoint = _endpoint(session, caller.workspace_id, endpoint_id)
    try:
        service.update_endpoint(
            session, endpoint=endpoint, data=body, allowed_networks=settings.allowed_networks
        )
    except service.InvalidEndpoint as exc:
        raise _refused(exc) from exc
    session.commit()
    return EndpointPublic.model_validate(endpoint, from_attributes=True)


@router.delete("/endpoints/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_endpoint(endpoint_id: str, caller: CallerDep, session: SessionDep) -> Response:
    service.delete_endpoint(session, endpoint=_endpoint(session, caller.workspace_id, endpoint_id))
    session.commit()
    return Response(status_code=204)


@router.post(
    "/endpoints/{endpoint_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PingQueued,
)
def ping(endpoint_id: str, caller: CallerDep, session: SessionDep) -> PingQueued:
    """Queue a signed `io.qunyun.webhook.ping.v1` delivery; follow it in its attempts."""
    endpoint = _endpoint(session, caller.workspace_id, endpoint_id)
    if not endpoint.active:
        raise Problem(409, "endpoint-disabled", "Endpoint disabled", "Re-enable it first.")
    message = service.enqueue_ping(session, endpoint=endpoint, now=datetime.now(UTC))
    session.commit()
    return PingQueued(message_id=message.id, event_id=message.event_id)


@router.post("/endpoints/{endpoint_id}/secret/rotate", response_model=SecretRotated)
def rotate_secret(
    endpoint_id: str,
    body: SecretRotation,
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
) -> SecretRotated:
    """A new secret, shown once. Until `previous_secret_expires_at` every delivery carries
    two signatures (new and old), so the receiver can switch without losing one."""
    endpoint = _endpoint(session, caller.workspace_id, endpoint_id)
    overlap = body.overlap_seconds
    try:
        service.rotate_secret(
            session,
            endpoint=endpoint,
            secret=body.secret,
            overlap=timedelta(
                seconds=settings.webhook_rotation_overlap_seconds if overlap is None else overlap
            ),
            now=datetime.now(UTC),
        )
    except service.InvalidEndpoint as exc:
        raise _refused(exc) from exc
    session.commit()
    return SecretRotated(
        secret=endpoint.secret, previous_secret_expires_at=endpoint.previous_secret_expires_at
    )


@router.get("/endpoints/{endpoint_id}/messages", response_model=Page[MessagePublic])
def list_messages(
    endpoint_id: str,
    caller: CallerDep,
    session: SessionDep,
    page: PageDep,
    state: Annotated[Literal["pending", "delivered", "failed"] | None, Query()] = None,
    since: Annotated[datetime | None, Query(description="Queued at or after.")] = None,
) -> Page[MessagePublic]:
    """The messages queued for an endpoint, oldest first."""
    _endpoint(session, caller.workspace_id, endpoint_id)
    rows, cursor = paginate(
        session,
        service.messages_query(endpoint_id=endpoint_id, state=state, since=since),
        col(WebhookMessage.id),
        page,
    )
    return Page(
        data=[MessagePublic.model_validate(r, from_attributes=True) for r in rows],
        next_cursor=cursor,
    )


@router.get(
    "/endpoints/{endpoint_id}/messages/{message_id}/attempts",
    response_model=Page[AttemptPublic],
)
def list_attempts(
    endpoint_id: str, message_id: str, caller: CallerDep, session: SessionDep, page: PageDep
) -> Page[AttemptPublic]:
    """Every attempt to deliver one message, oldest first: when, the status, the latency,
    what the receiver answered (its first bytes)."""
    _endpoint(session, caller.workspace_id, endpoint_id)
    message = _message(session, endpoint_id, message_id)
    rows, cursor = paginate(
        session, service.attempts_query(message_id=message.id), col(WebhookAttempt.id), page
    )
    return Page(
        data=[AttemptPublic.model_validate(a, from_attributes=True) for a in rows],
        next_cursor=cursor,
    )


@router.post(
    "/endpoints/{endpoint_id}/messages/{message_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessagePublic,
)
def redeliver(
    endpoint_id: str, message_id: str, caller: CallerDep, session: SessionDep
) -> MessagePublic:
    """Send one message again, with the same `webhook-id`."""
    endpoint = _endpoint(session, caller.workspace_id, endpoint_id)
    if not endpoint.active:
        raise Problem(409, "endpoint-disabled", "Endpoint disabled", "Re-enable it first.")
    message = service.redeliver(
        session, message=_message(session, endpoint_id, message_id), now=datetime.now(UTC)
    )
    session.commit()
    return MessagePublic.model_validate(message, from_attributes=True)


@router.post(
    "/endpoints/{endpoint_id}/redeliver-failed",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RedeliveryQueued,
)
def redeliver_failed(
    endpoint_id: str, body: Redelivery, caller: CallerDep, session: SessionDep
) -> RedeliveryQueued:
    """Send again every failed message queued since a time (after fixing the receiver)."""
    endpoint = _endpoint(session, caller.workspace_id, endpoint_id)
    if not endpoint.active:
        raise Problem(409, "endpoint-disabled", "Endpoint disabled", "Re-enable it first.")
    queued = service.redeliver_failed(
        session, endpoint_id=endpoint.id, since=body.since, now=datetime.now(UTC)
    )
    session.commit()
    return RedeliveryQueued(queued=queued)
