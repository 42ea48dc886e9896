"""Every operation of the public API declares the scope it needs, and a key without that scope
is refused with a 403 naming it, before anything reaches a service."""

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.access.routes import ScopeTable
from gateway.access.scopes import ADMIN, SCOPES
from tests.integration.gateway.access.conftest import Services, bearer, console_token

pytestmark = pytest.mark.integration

GRANTABLE = [s for s in SCOPES if s != ADMIN]
_BODY_METHODS = {"post", "put", "patch"}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method in {"get", "put", "post", "delete", "patch"}
    ]


def _is_missing_scope(answer: Any) -> bool:
    return answer.status_code == 403 and answer.json()["type"].endswith("/missing-scope")


def test_every_operation_declares_a_scope_and_a_key_without_it_is_refused(
    gateway: TestClient, services: Services, make_key: Callable[..., str]
) -> None:
    doc = gateway.get("/openapi.json").json()
    assert {"ApiKey", "ConsoleToken"} <= doc["components"]["securitySchemes"].keys()
    operations = _operations(doc)
    # The services' documents were merged in, not only the gateway's own routes.
    assert len(operations) > 150, len(operations)
    own = ScopeTable(gateway.app).own  # type: ignore[arg-type]
    lacking = {scope: make_key([s for s in GRANTABLE if s != scope]) for scope in SCOPES}
    holding = {scope: make_key([scope]) for scope in SCOPES}
    declared: set[str] = set()
    for path, method, operation in operations:
        if operation.get("security") == []:  # a bot's signed push takes no key
            assert path.startswith("/v1/inbound/"), path
            continue
        scope = operation.get("x-required-scope")
        assert scope in SCOPES, (method, path, scope)
        assert operation["security"] == [{"ApiKey": [scope]}, {"ConsoleToken": [scope]}]
        assert "missing-scope" in json.dumps(operation["responses"]["403"]), (method, path)
        assert "invalid-token" in json.dumps(operation["responses"]["401"]), (method, path)
        declared.add(scope)

        url = re.sub(r"\{[^}]+\}", "x_1", path)
        body: dict[str, Any] = {"json": {}} if method in _BODY_METHODS else {}
        reached = len(services.reached)
        refused = gateway.request(method.upper(), url, headers=bearer(lacking[scope]), **body)
        assert _is_missing_scope(refused), (method, path, refused.status_code, refused.text)
        assert refused.json()["required_scope"] == scope
        assert f'scope="{scope}"' in refused.headers["www-authenticate"]
        assert len(services.reached) == reached, (method, path)  # nothing got through

        allowed = gateway.request(method.upper(), url, headers=bearer(holding[scope]), **body)
        assert not _is_missing_scope(allowed), (method, path, allowed.text)
        if (method.upper(), path) not in own:
            assert allowed.status_code == 200 and len(services.reached) == reached + 1
            assert services.reached[-1].method == method.upper()
    # Every scope guards something, but `ingest:write`, whose routes come with bulk ingestion.
    assert declared >= set(SCOPES) - {"ingest:write"}


def test_no_route_of_the_gateway_authenticates_without_declaring_a_scope(
    gateway: TestClient,
) -> None:
    table = ScopeTable(gateway.app)  # type: ignore[arg-type]
    assert table.unscoped == []
    assert table.own[("POST", "/v1/api-keys")] == ADMIN
    assert table.own[("GET", "/v1/webhooks/endpoints")] == "webhooks:manage"
    assert table.own[("POST", "/v1/integrations")] == ADMIN
    assert table.own[("POST", "/v1/inbound/{integration_id}")] is None


def test_a_read_key_reads_but_does_not_write(
    gateway: TestClient, services: Services, make_key: Callable[..., str]
) -> None:
    reader = bearer(make_key(["members:read", "metrics:read"]))
    assert gateway.get("/v1/communities", headers=reader).status_code == 200
    assert gateway.get("/v1/metrics/communities/c_1/overview", headers=reader).status_code == 200
    written = gateway.post("/v1/communities", headers=reader, json={"name": "读书会"})
    assert written.status_code == 403
    assert written.json()["required_scope"] == "members:write"
    assert written.json()["granted_scopes"] == ["members:read", "metrics:read"]
    # Metrics' one write is configuration: `admin`, not `metrics:read`.
    thresholds = gateway.patch(
        "/v1/metrics/communities/c_1/alert-thresholds", headers=reader, json={}
    )
    assert thresholds.json()["required_scope"] == ADMIN
    # Other services' paths need their own scopes.
    assert gateway.get("/v1/contents/x", headers=reader).json()["required_scope"] == "content:read"
    assert gateway.get("/v1/activities", headers=reader).json()["required_scope"] == "events:read"


def test_admin_implies_every_scope(
    gateway: TestClient, services: Services, make_key: Callable[..., str]
) -> None:
    admin = bearer(make_key([ADMIN]))
    assert gateway.post("/v1/communities/c_1/contents", headers=admin, json={}).status_code == 200
    assert gateway.get("/v1/webhooks/event-types", headers=admin).status_code == 200
    assert gateway.get("/v1/api-keys", headers=admin).status_code == 200


def test_a_path_no_service_owns_is_a_404_whatever_the_scopes(
    gateway: TestClient, make_key: Callable[..., str]
) -> None:
    answer = gateway.get("/v1/nowhere", headers=bearer(make_key(["members:read"])))
    assert answer.status_code == 404


def test_a_console_token_is_held_to_its_scopes_too(gateway: TestClient) -> None:
    token = bearer(console_token(scope="content:read members:read"))
    assert gateway.get("/v1/contents/x", headers=token).status_code == 200
    refused = gateway.delete("/v1/webhooks/endpoints/x", headers=token)
    assert refused.status_code == 403 and refused.json()["required_scope"] == "webhooks:manage"
    keys = gateway.get("/v1/api-keys", headers=token)
    assert keys.status_code == 403 and keys.json()["required_scope"] == ADMIN
