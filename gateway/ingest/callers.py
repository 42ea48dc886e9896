"""Who is posting a batch: an API key's holder, or an integration signing the Standard Webhooks
way with its secret (as it signs single pushes to `/v1/inbound/{integration_id}`), naming
itself in the `Qunyun-Integration` header since the address does not."""

from dataclasses import dataclass
from typing import Literal

from fastapi import Request
from sqlmodel import Session

from gateway.access.deps import authenticated, ensure_scope
from gateway.access.scopes import INGEST_WRITE
from gateway.integration_verdicts import ActiveIntegration, IntegrationVerdicts
from gateway.models import Integration
from gateway.signatures import InvalidSignature, verify
from services.common.http.problems import Problem

INTEGRATION_HEADER = "qunyun-integration"


@dataclass(frozen=True)
class Ingester:
    workspace_id: str
    # The CloudEvents `source` of what it posts: who, without a secret in it.
    source: str
    auth: Literal["api_key", "signature"]


def signed(request: Request) -> bool:
    """Whether the request means to be authenticated by its signature rather than a key."""
    return "authorization" not in request.headers and "webhook-signature" in request.headers


def by_api_key(request: Request, *, source: str) -> Ingester:
    """The holder of a key (or console token) with `ingest:write` (or a 401 / 403 / 429
    problem), without a database round trip while the key's verdict is cached."""
    caller = ensure_scope(authenticated(request), INGEST_WRITE)
    return Ingester(caller.workspace_id, f"{source}/keys/{caller.key_id}", "api_key")


def by_signature(session: Session, *, request: Request, body: bytes, source: str) -> Ingester:
    """The integration that signed `body` (or a 401 problem saying why not), from the verdicts
    single pushes remember too: a bot posting batches asks the database once in a few
    seconds, not once a batch."""
    integration_id = request.headers.get(INTEGRATION_HEADER, "")

    def look_up(integration_id: str) -> ActiveIntegration | None:
        found = session.get(Integration, integration_id)
        if found is None or found.disabled_at is not None:
            return None
        return ActiveIntegration(found.id, found.workspace_id, found.secret)

    verdicts: IntegrationVerdicts = request.app.state.integration_verdicts
    integration = verdicts.active(integration_id, look_up) if integration_id else None
    if integration is None:
        raise Problem(
            401,
            "invalid-signature",
            "Invalid signature",
            f"Name an active integration in the `{INTEGRATION_HEADER.title()}` header, or send "
            "`Authorization: Bearer <api key>`.",
        )
    try:
        verify(
            integration.key,
            msg_id=request.headers.get("webhook-id", ""),
            timestamp=request.headers.get("webhook-timestamp", ""),
            signatures=request.headers.get("webhook-signature", ""),
            body=body,
        )
    except InvalidSignature as exc:
        raise Problem(401, "invalid-signature", "Invalid signature", str(exc)) from exc
    return Ingester(integration.workspace_id, f"{source}/{integration.id}", "signature")
