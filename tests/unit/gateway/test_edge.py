"""The gateway's edge: CORS from configuration, forwarding odd bytes faithfully, one document."""

import asyncio
import json
from typing import Any

import aiohttp
import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from gateway.access.callers import Caller
from gateway.app import create_app
from gateway.openapi import MergedDocument, duplicate_operation_ids, merged_openapi
from gateway.settings import GatewaySettings
from gateway.traffic.breakers import CircuitBreaker
from gateway.traffic.forwarding import forward, upstream_session
from gateway.traffic.routing import Upstream
from services.common.http.problems import MEDIA_TYPE
from services.members.app import create_app as create_members_app
from tests.unit.gateway.traffic.test_forwarding import served

CONSOLE = "https://console.example"


def _preflight(client: TestClient, origin: str) -> httpx.Response:
    return client.options(
        "/v1/communities",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )


def test_preflight_from_an_allowed_origin_is_answered_by_the_gateway() -> None:
    client = TestClient(create_app(GatewaySettings(cors_allow_origins=[CONSOLE])))
    response = _preflight(client, CONSOLE)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == CONSOLE
    assert "idempotency-key" in response.headers["access-control-allow-headers"].lower()


def test_no_origin_is_allowed_unless_configured() -> None:
    client = TestClient(create_app(GatewaySettings()))
    assert "access-control-allow-origin" not in _preflight(client, CONSOLE).headers
    client = TestClient(create_app(GatewaySettings(cors_allow_origins=[CONSOLE])))
    assert "access-control-allow-origin" not in _preflight(client, "https://evil.example").headers


def test_allowed_origins_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUNYUN_CORS_ALLOW_ORIGINS", f"{CONSOLE}, https://b.example")
    assert GatewaySettings().cors_allow_origins == [CONSOLE, "https://b.example"]


def test_forwarding_keeps_the_bytes_a_client_sent_in_paths_queries_and_headers() -> None:
    key = "7d1c…".encode()  # what curl sends for the README's key: UTF-8 bytes
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/v1/communities/é",
        "raw_path": b"/v1/communities/%C3%A9",
        "query_string": b"q=a%20b&tag=%E6%95%B0",
        "headers": [(b"idempotency-key", key), (b"authorization", b"Bearer secret")],
    }
    reply = (
        f"HTTP/1.1 404 Not Found\r\ncontent-type: {MEDIA_TYPE}\r\nallow: GET\r\n"
        "content-length: 0\r\n\r\n"
    ).encode()
    seen: list[bytes] = []

    async def call(url: str) -> Any:
        async with upstream_session() as client:
            return await forward(
                Request(scope),
                client=client,
                upstream=Upstream(
                    "members", url, CircuitBreaker("edge", failures=5, open_seconds=1)
                ),
                timeout=aiohttp.ClientTimeout(total=None, connect=5, sock_read=5),
                caller=Caller(key_id="key_1", workspace_id="ws_1"),
                internal_token="internal",
                body=b"",
            )

    response = asyncio.run(served(reply, call, seen))
    (head,) = seen
    request_line, *lines = head.split(b"\r\n")
    assert request_line == b"GET /v1/communities/%C3%A9?q=a%20b&tag=%E6%95%B0 HTTP/1.1"
    sent = {name.lower(): value for name, _, value in (line.partition(b": ") for line in lines)}
    assert sent[b"idempotency-key"] == key
    assert b"authorization" not in sent
    assert response.status_code == 404 and response.headers["allow"] == "GET"


@pytest.fixture(scope="module")
def merged() -> dict[str, Any]:
    members = create_members_app().openapi()
    gateway_own = create_app(GatewaySettings()).openapi()
    # The content service did not answer: its part is left out.
    return merged_openapi(
        [members, None], own=gateway_own, version="t", server_url="https://api.example"
    )


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(p, m, op) for p, item in doc["paths"].items() for m, op in item.items()]


def test_the_merged_document_documents_every_error_as_a_problem(merged: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in json.dumps(merged)
    for path, method, operation in _operations(merged):
        for status, response in operation["responses"].items():
            if status[0] in "345":
                assert list(response["content"]) == [MEDIA_TYPE], (path, method, status)
        assert "422" in operation["responses"] or "requestBody" not in operation


def test_the_gateway_adds_what_it_answers_itself(merged: dict[str, Any]) -> None:
    for path, method, operation in _operations(merged):
        responses = operation["responses"]
        if path.startswith("/v1/inbound/"):
            assert "429" not in responses
        else:
            assert {"401", "429"} <= responses.keys(), (path, method)
        if "requestBody" in operation:
            assert "413" in responses, (path, method)


def test_operation_ids_are_short_unique_and_servers_named(merged: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in _operations(merged)]
    assert not duplicate_operation_ids(merged)
    assert max(len(i) for i in ids) <= 40 and not any(i.endswith("Route") for i in ids)
    assert {"createCommunity", "listMembers", "createIntegration"} <= set(ids)
    assert merged["servers"] == [{"url": "https://api.example"}]


def test_schema_names_are_words_and_every_ref_resolves(merged: dict[str, Any]) -> None:
    schemas = merged["components"]["schemas"]
    assert "MemberPage" in schemas and not [n for n in schemas if "_" in n]
    refs = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.add(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(merged)
    for ref in refs:
        node = merged
        for part in ref.removeprefix("#/").split("/"):
            assert part in node, ref
            node = node[part]


def test_every_keyed_answer_documents_its_rate_limit_headers(merged: dict[str, Any]) -> None:
    for path, method, operation in _operations(merged):
        if path.startswith("/v1/inbound/"):
            continue
        for status, response in operation["responses"].items():
            documented = set(response.get("headers", {}))
            limits = {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}
            if status == "401":  # no key, nothing counted
                assert not limits & documented, (path, method)
            else:
                assert limits <= documented, (path, method, status)
        assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_the_merged_document_is_built_once_and_again_only_when_a_part_changed() -> None:
    parts = [{"paths": {"/v1/a": {}}}]
    builds: list[int] = []
    fetched: list[int] = []

    async def fetch(client: Any, urls: dict[str, str]) -> list[dict[str, Any] | None]:
        fetched.append(1)
        return [dict(p) for p in parts]

    def build(got: list[dict[str, Any] | None]) -> dict[str, Any]:
        builds.append(1)
        return {"paths": got[0]["paths"] if got[0] else {}}

    async def run() -> list[bytes]:
        document = MergedDocument(build, refresh_seconds=0.05, fetch=fetch)
        bodies = [await document.body(None, {}) for _ in range(3)]  # type: ignore[arg-type]
        await asyncio.sleep(0.06)
        bodies.append(await document.body(None, {}))  # type: ignore[arg-type]  # fetched, same
        parts[0] = {"paths": {"/v1/b": {}}}
        await asyncio.sleep(0.06)
        bodies.append(await document.body(None, {}))  # type: ignore[arg-type]
        return bodies

    bodies = asyncio.run(run())
    assert (len(fetched), len(builds)) == (3, 2)
    assert json.loads(bodies[0]) == {"paths": {"/v1/a": {}}} and bodies[:4] == [bodies[0]] * 4
    assert json.loads(bodies[4]) == {"paths": {"/v1/b": {}}}
