"""Webhooks in: bots push what happens in the groups (messages, joins, leaves) and what members
ask for there (registrations, daily check-ins).

Each integration signs its requests the Standard Webhooks way with its own secret; we verify
on the raw body, refuse stale timestamps, accept a webhook id once, and answer 202 as soon as
the event is in the outbox: the members service (or, for registrations and check-ins, the
events service) processes it from Kafka.
"""

import hashlib
import json
from typing import Annotated, Any, Literal

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Header, Request, Response, status
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from gateway.bodies import read_body
from gateway.integration_verdicts import ActiveIntegration, IntegrationVerdicts
from gateway.signatures import InvalidSignature, verify
from services.common import outbox
from services.common.contracts import (
    ChatMessagePosted,
    CheckInPushed,
    EventData,
    GroupMemberJoined,
    GroupMemberLeft,
    PublicationResultReported,
    RegistrationRequested,
    SubmissionReceived,
)
from services.common.http.problems import (
    Problem,
    ProblemKind,
    problem_responses,
    register_problem,
)

SOURCE = "/qunyun/gateway/inbound"
INBOUND_TYPES: dict[str, type[EventData]] = {
    "message_posted": ChatMessagePosted,
    "group_member_joined": GroupMemberJoined,
    "group_member_left": GroupMemberLeft,
    "registration_requested": RegistrationRequested,
    "check_in": CheckInPushed,
    # Content: a bot's result for a `publication_due`, and a member's submission (投稿).
    "publication_result": PublicationResultReported,
    "submission": SubmissionReceived,
}

INVALID_SIGNATURE = register_problem(ProblemKind("invalid-signature", 401, "Invalid signature"))
WEBHOOK_ID_REUSED = register_problem(ProblemKind("webhook-id-reused", 422, "Webhook id reused"))

router = APIRouter(prefix="/v1", tags=["integrations"])


def ingest_key(data: EventData) -> str:
    """The record key of a bot's event: its group, as the platform names it."""
    return f"{getattr(data, 'platform', '')}:{getattr(data, 'group_external_id', '')}"


class InboundEvent(BaseModel):
    type: Literal[
        "message_posted",
        "group_member_joined",
        "group_member_left",
        "registration_requested",
        "check_in",
        "publication_result",
        "submission",
    ]
    data: dict[str, Any]


class InboundAccepted(BaseModel):
    event_id: str
    duplicate: bool


def body_digest(body: bytes) -> str:
    """SHA-256 of a pushed JSON body in canonical form (keys sorted, no spaces), so a retry
    serialised differently (key order, whitespace) is still the same event."""
    return _digest(json.loads(body))


def _digest(parsed: Any) -> str:
    # The standard library's form (ASCII, escaped), not orjson's: digests stored before this
    # form was computed from the parsed body must still match their retries.
    canonical = json.dumps(parsed, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _parsed(body: bytes) -> Any:
    """The pushed JSON, parsed once: by orjson, or by the standard library for what orjson
    refuses and it reads (lone surrogates, integers beyond 64 bits)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except ValueError as exc:
        raise Problem(
            422,
            "validation-error",
            "The request is not valid",
            "The pushed body is not JSON.",
            errors=[{"field": "", "in": "body", "message": str(exc), "code": "json_invalid"}],
        ) from exc


def _verdicts(app: Any) -> IntegrationVerdicts:
    """This replica's integration verdicts, made on first use (on the event loop, so once)."""
    verdicts: IntegrationVerdicts | None = getattr(app.state, "integration_verdicts", None)
    if verdicts is None:
        verdicts = app.state.integration_verdicts = IntegrationVerdicts()
    return verdicts


def _look_up(engine: Engine, integration_id: str) -> ActiveIntegration | None:
    with engine.connect() as conn:
        row = conn.execute(_ACTIVE_INTEGRATION, {"id": integration_id}).first()
    return None if row is None else ActiveIntegration(integration_id, row[0], row[1])


_ACTIVE_INTEGRATION = sa.text(
    "SELECT workspace_id, secret FROM integration WHERE id = :id AND disabled_at IS NULL"
)
# The delivery and its outbox row in one statement, run on its own (autocommit): one round
# trip, no BEGIN or COMMIT. The outbox row is written only when the delivery is new; the text
# never changes, so psycopg prepares it once per connection.
_ACCEPT_ONCE = sa.text(
    "WITH first AS ("
    "INSERT INTO inbound_delivery (integration_id, webhook_id, event_id, body_digest, received_at) "
    "VALUES (:integration_id, :webhook_id, :event_id, :digest, now()) "
    "ON CONFLICT DO NOTHING RETURNING event_id), "
    f"queued AS (INSERT INTO {outbox.OUTBOX_TABLE} (event_id, topic, key, headers, payload) "
    "SELECT event_id, :topic, :key, CAST(:headers AS jsonb), :payload FROM first) "
    "SELECT event_id FROM first"
)
_EARLIER = sa.text(
    "SELECT event_id, body_digest FROM inbound_delivery "
    "WHERE integration_id = :integration_id AND webhook_id = :webhook_id"
)


def _accepted(event_id: str, *, duplicate: bool) -> Response:
    """The 202, serialised by orjson: the route's `response_model` documents it, and a
    Response returned as is skips FastAPI validating and encoding it again, on every push."""
    return Response(
        orjson.dumps({"event_id": event_id, "duplicate": duplicate}),
        status_code=202,
        media_type="application/json",
    )


def _accept(
    engine: Engine,
    verdicts: IntegrationVerdicts,
    integration_id: str,
    webhook_id: str,
    timestamp: str,
    signature: str,
    body: bytes,
) -> Response:
    integration = verdicts.active(integration_id, lambda id_: _look_up(engine, id_))
    if integration is None:
        raise Problem(404, "not-found", "Not found", "No active integration at this address.")
    try:
        verify(
            integration.secret,
            msg_id=webhook_id,
            timestamp=timestamp,
            signatures=signature,
            body=body,
        )
    except InvalidSignature as exc:
        raise Problem(401, "invalid-signature", "Invalid signature", str(exc)) from exc
    parsed = _parsed(body)
    try:
        pushed = InboundEvent.model_validate(parsed)
        data = INBOUND_TYPES[pushed.type].model_validate(pushed.data)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"]),
                "in": "body",
                "message": e["msg"],
                "code": e["type"],
            }
            for e in exc.errors(include_url=False)
        ]
        raise Problem(
            422,
            "validation-error",
            "The request is not valid",
            "The pushed event does not match its type.",
            errors=errors,
        ) from exc
    digest = _digest(parsed)
    # The event's own new `evt_` id is the one answered: a second id would cost as much again.
    event = data.to_event(
        source=f"{SOURCE}/{integration.id}",
        workspace_id=integration.workspace_id,
        community_id=None,
        subject=getattr(data, "group_external_id", None),
    )
    delivery = {"integration_id": integration.id, "webhook_id": webhook_id}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        first = conn.execute(
            _ACCEPT_ONCE,
            delivery
            | {
                "event_id": event.id,
                "digest": digest,
                "topic": data.topic,
                # Keyed by group, not workspace: one busy workspace's chat spreads over
                # partitions (and consumer replicas) while each group's messages keep order.
                "key": ingest_key(data),
                "headers": orjson.dumps(
                    [[k, v.decode()] for k, v in event.kafka_headers()]
                ).decode(),
                "payload": event.kafka_value(),
            },
        ).scalar_one_or_none()
        if first is not None:
            return _accepted(event.id, duplicate=False)
        earlier_id, earlier_digest = conn.execute(_EARLIER, delivery).one()
    if earlier_digest is not None and earlier_digest != digest:
        # A retry carries the same event; another event under a used id would be dropped
        # unseen if taken for one.
        raise Problem(
            422,
            WEBHOOK_ID_REUSED.slug,
            WEBHOOK_ID_REUSED.title,
            "This webhook-id was used for another event; give each event its own id "
            "and send a retry with the same body.",
            event_id=earlier_id,
        )
    return _accepted(earlier_id, duplicate=True)


@router.post(
    "/inbound/{integration_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=InboundAccepted,
    openapi_extra={"security": []},
    responses=problem_responses(INVALID_SIGNATURE, WEBHOOK_ID_REUSED, 413),
)
async def push(
    integration_id: str,
    request: Request,
    webhook_id: Annotated[str, Header(alias="webhook-id", min_length=1, max_length=200)],
    webhook_timestamp: Annotated[str, Header(alias="webhook-timestamp", max_length=20)],
    webhook_signature: Annotated[str, Header(alias="webhook-signature", max_length=2000)],
) -> Response:
    """A bot pushes one event: `{"type": "message_posted" | "group_member_joined" |
    "group_member_left" | "registration_requested" | "check_in" | "publication_result" |
    "submission", "data": {...}}`, signed with its integration's secret. A retry with the same
    `webhook-id` and body is accepted again and changes nothing (`duplicate: true`); the same
    `webhook-id` with another body is a 422 `webhook-id-reused`."""
    body = await read_body(request)
    return await run_in_threadpool(
        _accept,
        request.app.state.engine,
        _verdicts(request.app),
        integration_id,
        webhook_id,
        webhook_timestamp,
        webhook_signature,
        body,
    )
