"""Accepting a bot's signed push (`POST /v1/inbound/{integration_id}`): its integration from
the verdicts remembered for a few seconds, its signature checked, its event read, then the
delivery and its outbox row written in one statement, answered 202.

Bots push one event a request, hundreds a second, so the path is kept short: a plain Starlette
route (`PushRoute`) matched before every other one takes each well-formed push without
FastAPI's dependency solving, and awaits the database on the event loop (`PushConnections`)
instead of a worker thread. The FastAPI route below documents the operation and answers what
`PushRoute` leaves to it (a missing or oversized `webhook-*` header: the same 422 as any
route's), both through `accept`.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import orjson
import psycopg
from fastapi import APIRouter, FastAPI, Header, Request, Response, status
from starlette.routing import Match, Route
from starlette.types import Scope

from gateway.bodies import read_body
from gateway.inbound import (
    INVALID_SIGNATURE,
    SOURCE,
    WEBHOOK_ID_REUSED,
    InboundAccepted,
    ingest_key,
    read_event,
)
from gateway.integration_verdicts import ActiveIntegration, IntegrationVerdicts
from gateway.push_connections import PushConnections
from gateway.signatures import InvalidSignature, verify
from services.common import outbox
from services.common.http.problems import Problem, problem_responses

router = APIRouter(prefix="/v1", tags=["integrations"])
PATH = "/v1/inbound/{integration_id}"
# The `webhook-*` headers' longest accepted values: the documented route declares them, and
# `PushRoute` takes only pushes within them.
_ID_MAX, _TIMESTAMP_MAX, _SIGNATURE_MAX = 200, 20, 2000
_HEADER_LIMITS = {
    b"webhook-id": _ID_MAX,
    b"webhook-timestamp": _TIMESTAMP_MAX,
    b"webhook-signature": _SIGNATURE_MAX,
}

_ACTIVE_INTEGRATION = (
    "SELECT workspace_id, secret FROM integration WHERE id = %s AND disabled_at IS NULL"
)
# The delivery and its outbox row in one statement, in autocommit: one round trip, no BEGIN or
# COMMIT. The outbox row is written only when the delivery is new, so the statement is safe to
# run again (`PushConnections` does, on a connection the database dropped).
_ACCEPT_ONCE = (
    "WITH first AS ("
    "INSERT INTO inbound_delivery (integration_id, webhook_id, event_id, body_digest, received_at) "
    "VALUES (%(integration_id)s, %(webhook_id)s, %(event_id)s, %(digest)s, now()) "
    "ON CONFLICT DO NOTHING RETURNING event_id), "
    f"queued AS (INSERT INTO {outbox.OUTBOX_TABLE} (event_id, topic, key, headers, payload) "
    "SELECT event_id, %(topic)s, %(key)s, CAST(%(headers)s AS jsonb), %(payload)s FROM first) "
    "SELECT event_id FROM first"
)
_EARLIER = (
    "SELECT event_id, body_digest FROM inbound_delivery "
    "WHERE integration_id = %(integration_id)s AND webhook_id = %(webhook_id)s"
)


@asynccontextmanager
async def push_state(app: FastAPI) -> AsyncIterator[None]:
    """This replica's integration verdicts and the push path's database connections."""
    app.state.integration_verdicts = IntegrationVerdicts()
    connections = app.state.push_connections = PushConnections(app.state.settings.database_url)
    try:
        yield
    finally:
        await connections.close()


async def _integration(
    connections: PushConnections, verdicts: IntegrationVerdicts, integration_id: str
) -> ActiveIntegration | None:
    known = verdicts.fresh(integration_id)
    if known is not None:
        return known

    async def look_up(conn: psycopg.AsyncConnection) -> ActiveIntegration | None:
        row = await (await conn.execute(_ACTIVE_INTEGRATION, (integration_id,))).fetchone()
        return None if row is None else ActiveIntegration(integration_id, row[0], row[1])

    found = await connections.run(look_up)
    verdicts.remember(integration_id, found)
    return found


def _accepted(event_id: str, *, duplicate: bool) -> Response:
    """The 202, serialised by orjson: the documented route's `response_model` describes it,
    and a Response returned as is is not validated and encoded again."""
    return Response(
        orjson.dumps({"event_id": event_id, "duplicate": duplicate}),
        status_code=202,
        media_type="application/json",
    )


async def accept(
    request: Request, integration_id: str, webhook_id: str, timestamp: str, signature: str
) -> Response:
    body = await read_body(request)
    state = request.app.state
    connections: PushConnections = state.push_connections
    integration = await _integration(connections, state.integration_verdicts, integration_id)
    if integration is None:
        raise Problem(404, "not-found", "Not found", "No active integration at this address.")
    try:
        verify(
            integration.key, msg_id=webhook_id, timestamp=timestamp, signatures=signature, body=body
        )
    except InvalidSignature as exc:
        raise Problem(401, "invalid-signature", "Invalid signature", str(exc)) from exc
    data, digest = read_event(body)
    # The event's own new `evt_` id is the one answered: a second id would cost as much again.
    event = data.to_event(
        source=f"{SOURCE}/{integration.id}",
        workspace_id=integration.workspace_id,
        community_id=None,
        subject=getattr(data, "group_external_id", None),
    )
    delivery = {"integration_id": integration.id, "webhook_id": webhook_id}
    params = delivery | {
        "event_id": event.id,
        "digest": digest,
        "topic": data.topic,
        # Keyed by group, not workspace: one busy workspace's chat spreads over partitions
        # (and consumer replicas) while each group's messages keep order.
        "key": ingest_key(data),
        "headers": orjson.dumps(event.header_pairs()).decode(),
        "payload": event.kafka_value(),
    }

    async def write(conn: psycopg.AsyncConnection) -> tuple[str, str | None, bool]:
        first = await (await conn.execute(_ACCEPT_ONCE, params, prepare=True)).fetchone()
        if first is not None:
            return first[0], None, True
        earlier = await (await conn.execute(_EARLIER, delivery)).fetchone()
        assert earlier is not None  # the conflict was this delivery's, and deliveries stay
        return earlier[0], earlier[1], False

    event_id, earlier_digest, new = await connections.run(write)
    if new:
        return _accepted(event_id, duplicate=False)
    if earlier_digest is not None and earlier_digest != digest:
        # A retry carries the same event; another event under a used id would be dropped
        # unseen if taken for one.
        raise Problem(
            422,
            WEBHOOK_ID_REUSED.slug,
            WEBHOOK_ID_REUSED.title,
            "This webhook-id was used for another event; give each event its own id "
            "and send a retry with the same body.",
            event_id=event_id,
        )
    return _accepted(event_id, duplicate=True)


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
    webhook_id: Annotated[str, Header(alias="webhook-id", min_length=1, max_length=_ID_MAX)],
    webhook_timestamp: Annotated[str, Header(alias="webhook-timestamp", max_length=_TIMESTAMP_MAX)],
    webhook_signature: Annotated[str, Header(alias="webhook-signature", max_length=_SIGNATURE_MAX)],
) -> Response:
    """A bot pushes one event: `{"type": "message_posted" | "group_member_joined" |
    "group_member_left" | "registration_requested" | "check_in" | "publication_result" |
    "submission", "data": {...}}`, signed with its integration's secret. A retry with the same
    `webhook-id` and body is accepted again and changes nothing (`duplicate: true`); the same
    `webhook-id` with another body is a 422 `webhook-id-reused`."""
    return await accept(request, integration_id, webhook_id, webhook_timestamp, webhook_signature)


async def _push(request: Request) -> Response:
    webhook_id, timestamp, signature = request.scope["webhook_headers"]
    return await accept(
        request, request.path_params["integration_id"], webhook_id, timestamp, signature
    )


class PushRoute(Route):
    """`POST /v1/inbound/{integration_id}` carrying its three `webhook-*` headers within their
    limits, to `accept` with no dependency solving (about 0.1 ms of CPU a push); any other
    request at that path falls through to the documented route, which answers it as before.
    Tried first: no other route's path starts with `/v1/inbound/`."""

    def __init__(self) -> None:
        super().__init__(PATH, _push, methods=["POST"], include_in_schema=False)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "POST":
            return Match.NONE, {}
        found: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            limit = _HEADER_LIMITS.get(name)
            if limit is not None and name not in found:
                if not 0 < len(value) <= limit:
                    return Match.NONE, {}
                found[name] = value.decode("latin-1")
        if len(found) < len(_HEADER_LIMITS):
            return Match.NONE, {}
        match, child = super().matches(scope)
        if match is not Match.FULL:
            return Match.NONE, {}
        child["webhook_headers"] = (
            found[b"webhook-id"],
            found[b"webhook-timestamp"],
            found[b"webhook-signature"],
        )
        return match, child
