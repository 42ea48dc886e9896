"""Integrations: a bot's registration with the platform. Its secret signs the bot's pushes
(`inbound.py`) and, when it carries an endpoint, the platform's deliveries to it (webhooks
out), so one registration serves both directions."""

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from gateway.access.deps import AdminDep
from gateway.integration_verdicts import IntegrationVerdicts
from gateway.models import Integration
from gateway.signatures import new_secret
from gateway.webhooks import service as webhooks
from gateway.webhooks.models import EndpointBase, EndpointCreate, WebhookEndpoint
from services.common.http.idempotency import IdempotencyKey, fingerprint, run_once
from services.common.http.openapi import set_location
from services.common.http.pagination import Page, Paging, paginate
from services.common.http.problems import (
    field_problem,
    not_found,
)
from services.common.http.schemas import RequestModel
from services.common.ids import new_id

router = APIRouter(prefix="/v1", tags=["integrations"])


class IntegrationCreate(RequestModel):
    name: str = Field(min_length=1, max_length=120)
    endpoint: EndpointBase | None = Field(
        default=None,
        description="Where the platform's events go to this bot (webhooks out), signed with "
        "the same secret: one registration serves both directions.",
    )


class IntegrationPublic(BaseModel):
    id: str
    name: str
    created_at: datetime
    disabled_at: datetime | None
    inbound_path: str
    endpoint_id: str | None = None


class IntegrationCreated(IntegrationPublic):
    secret: str = Field(description="Shown once. Sign each push with it (Standard Webhooks).")


def _public(integration: Integration, endpoint_id: str | None = None) -> dict[str, Any]:
    return integration.model_dump(exclude={"secret"}) | {
        "inbound_path": f"/v1/inbound/{integration.id}",
        "endpoint_id": endpoint_id,
    }


@router.post(
    "/integrations", status_code=status.HTTP_201_CREATED, response_model=IntegrationCreated
)
def create_integration(
    body: IntegrationCreate,
    request: Request,
    caller: AdminDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Register a bot that pushes group activity; its signing secret is in the answer, once.

    A retry with the same `Idempotency-Key` gets the same integration, not a second one."""
    with Session(request.app.state.engine) as session:

        def create() -> tuple[int, IntegrationCreated]:
            integration = Integration(
                id=new_id("int"),
                workspace_id=caller.workspace_id,
                name=body.name,
                secret=new_secret(),
            )
            session.add(integration)
            session.flush()
            endpoint_id = None
            if body.endpoint is not None:
                try:
                    endpoint = webhooks.create_endpoint(
                        session,
                        workspace_id=caller.workspace_id,
                        data=EndpointCreate(
                            **body.endpoint.model_dump(), secret=integration.secret
                        ),
                        allowed_networks=request.app.state.settings.allowed_networks,
                        integration_id=integration.id,
                    )
                except webhooks.InvalidEndpoint as exc:
                    raise field_problem(f"endpoint.{exc.field}", str(exc), exc.slug) from exc
                endpoint_id = endpoint.id
            return 201, IntegrationCreated(
                **_public(integration, endpoint_id), secret=integration.secret
            )

        response = run_once(
            session,
            workspace_id=caller.workspace_id,
            key=idempotency_key,
            request_fingerprint=fingerprint("POST /v1/integrations", body),
            create=create,
        )
    set_location(response, f"/v1/integrations/{json.loads(bytes(response.body))['id']}")
    return response


@router.get("/integrations/{integration_id}", response_model=IntegrationPublic)
def get_integration(integration_id: str, request: Request, caller: AdminDep) -> IntegrationPublic:
    with Session(request.app.state.engine) as session:
        integration = session.exec(
            select(Integration).where(
                Integration.id == integration_id, Integration.workspace_id == caller.workspace_id
            )
        ).one_or_none()
        if integration is None:
            raise not_found("integration", integration_id)
        endpoint_id = session.exec(
            select(WebhookEndpoint.id).where(
                WebhookEndpoint.workspace_id == caller.workspace_id,
                WebhookEndpoint.integration_id == integration.id,
            )
        ).first()
        return IntegrationPublic(**_public(integration, endpoint_id))


@router.get("/integrations", response_model=Page[IntegrationPublic])
def list_integrations(
    request: Request, caller: AdminDep, paging: Paging
) -> Page[IntegrationPublic]:
    """The workspace's integrations, oldest first."""
    with Session(request.app.state.engine) as session:
        rows, cursor = paginate(
            session,
            select(Integration).where(Integration.workspace_id == caller.workspace_id),
            col(Integration.id),
            paging,
        )
        endpoints = dict(
            session.exec(
                select(WebhookEndpoint.integration_id, WebhookEndpoint.id).where(
                    WebhookEndpoint.workspace_id == caller.workspace_id,
                    col(WebhookEndpoint.integration_id).in_([i.id for i in rows]),
                )
            ).all()
        )
        return Page(
            data=[IntegrationPublic(**_public(i, endpoints.get(i.id))) for i in rows],
            next_cursor=cursor,
        )


@router.delete("/integrations/{integration_id}", status_code=status.HTTP_204_NO_CONTENT)
def disable_integration(integration_id: str, request: Request, caller: AdminDep) -> Response:
    """Stop accepting pushes signed with this integration's secret, and stop delivering to
    its endpoint."""
    with Session(request.app.state.engine) as session:
        integration = session.exec(
            select(Integration).where(
                Integration.id == integration_id, Integration.workspace_id == caller.workspace_id
            )
        ).one_or_none()
        if integration is None:
            raise not_found("integration", integration_id)
        integration.disabled_at = integration.disabled_at or datetime.now(UTC)
        session.add(integration)
        for endpoint in session.exec(
            select(WebhookEndpoint).where(
                WebhookEndpoint.integration_id == integration.id, col(WebhookEndpoint.active)
            )
        ):
            webhooks.disable(
                session, endpoint=endpoint, reason="integration_disabled", now=datetime.now(UTC)
            )
        session.commit()
    verdicts: IntegrationVerdicts | None = getattr(request.app.state, "integration_verdicts", None)
    if verdicts is not None:
        verdicts.forget(integration_id)  # at once here; other replicas within their TTL
    return Response(status_code=204)
