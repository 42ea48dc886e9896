"""One OpenAPI document for the public API: the services' documents merged, with bearer auth.

Each service's document is already true of the service (the kit's `install_openapi`); what
the gateway adds is what the gateway itself answers: 401 without a valid key, 429 past the
rate limit (and the `RateLimit-*` headers on every answer), 413 past the body limit.

The document is built once and kept (`MergedDocument`): every `refresh_seconds` the services'
documents are fetched again, and it is rebuilt only when one of them changed.
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson

from services.common.http.problems import (
    MEDIA_TYPE,
    ProblemKind,
    problem_kind,
    problem_response_doc,
    problem_schemas,
    register_problem,
)

log = logging.getLogger(__name__)

# Raised in auth for a key that is unknown or revoked; listed so the document names it.
register_problem(ProblemKind("invalid-api-key", 401, "Invalid API key"))

_HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def merged_openapi(
    parts: list[dict[str, Any] | None],
    *,
    own: dict[str, Any],
    version: str,
    server_url: str = "/",
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Qunyun API",
            "version": version,
            "description": "Run and measure chat communities. Authenticate with "
            "`Authorization: Bearer <api key>`; errors are RFC 9457 problems "
            "(`application/problem+json`), each with a stable `type`.",
        },
        "servers": [{"url": server_url}],
        "paths": {},
        "components": {
            "schemas": dict(problem_schemas()),
            "securitySchemes": {
                "ApiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A workspace API key.",
                }
            },
        },
        "security": [{"ApiKey": []}],
    }
    _add(doc, own)
    for part in parts:
        if part is not None:
            _add(doc, part)
    _add_gateway_problems(doc)
    twice = duplicate_operation_ids(doc)
    if twice:
        log.warning("operation ids used twice in the merged document", extra={"ids": twice})
    return doc


async def fetch_documents(
    client: aiohttp.ClientSession, urls: dict[str, str]
) -> list[dict[str, Any] | None]:
    """Each service's own document, in the order of `urls`; None for one that did not answer."""
    return list(
        await asyncio.gather(*(_fetch(client, service, base) for service, base in urls.items()))
    )


async def _fetch(client: aiohttp.ClientSession, service: str, base: str) -> dict[str, Any] | None:
    try:
        async with client.get(
            base + "/openapi.json", timeout=aiohttp.ClientTimeout(total=10)
        ) as response:
            response.raise_for_status()
            document: dict[str, Any] = orjson.loads(await response.read())
            return document
    except (TimeoutError, aiohttp.ClientError, ValueError):
        log.warning("openapi of %s unavailable; left out", service)
        return None


class MergedDocument:
    """The merged document as served (JSON bytes), built once: the services' documents are
    fetched again at most every `refresh_seconds`, and the merge redone only when one of them
    changed (a service deployed anew, or back after being left out)."""

    def __init__(
        self,
        build: Callable[[list[dict[str, Any] | None]], dict[str, Any]],
        *,
        refresh_seconds: float,
        fetch: Callable[
            [aiohttp.ClientSession, dict[str, str]], Awaitable[list[dict[str, Any] | None]]
        ] = fetch_documents,
    ):
        self._build, self._fetch = build, fetch
        self._refresh = refresh_seconds
        self._parts: list[dict[str, Any] | None] | None = None
        self._body = b""
        self._fetched_at = -float("inf")
        self._lock = asyncio.Lock()

    async def body(self, client: aiohttp.ClientSession, urls: dict[str, str]) -> bytes:
        if time.monotonic() - self._fetched_at < self._refresh:
            return self._body
        async with self._lock:  # one refresh at a time; the others take its result
            if time.monotonic() - self._fetched_at >= self._refresh:
                parts = await self._fetch(client, urls)
                if parts != self._parts:
                    self._body = orjson.dumps(self._build(parts))
                    self._parts = parts
                # A service left out is asked again soon rather than after a full period.
                retry_soon = any(part is None for part in parts)
                self._fetched_at = time.monotonic() - (self._refresh * 0.9 if retry_soon else 0)
        return self._body


def _add(doc: dict[str, Any], part: dict[str, Any]) -> None:
    doc["paths"].update(
        {p: ops for p, ops in part.get("paths", {}).items() if p.startswith("/v1/")}
    )
    doc["components"]["schemas"].update(part.get("components", {}).get("schemas", {}))


# What every answer to a keyed call carries (gateway/traffic/limits.py), and the 429's wait.
_RATE_LIMIT_HEADERS: dict[str, Any] = {
    "RateLimit-Limit": {
        "description": "Requests this key may make at once for this kind of call (its burst).",
        "schema": {"type": "integer"},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in the bucket after this one.",
        "schema": {"type": "integer"},
    },
    "RateLimit-Reset": {
        "description": "Seconds until the bucket is full again.",
        "schema": {"type": "integer"},
    },
}
_RETRY_AFTER: dict[str, Any] = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer"},
}
_HEADER_REFS = {name: {"$ref": f"#/components/headers/{name}"} for name in _RATE_LIMIT_HEADERS}


def _add_gateway_problems(doc: dict[str, Any]) -> None:
    """The gateway's own answers, on every operation they can come from, and the rate-limit
    headers on every answer to a keyed call."""
    unauthorized = [problem_kind("unauthorized"), problem_kind("invalid-api-key")]
    rate_limited = [problem_kind("rate-limited")]
    too_large = [problem_kind("payload-too-large")]
    doc["components"]["headers"] = {**_RATE_LIMIT_HEADERS, "Retry-After": _RETRY_AFTER}
    for item in doc["paths"].values():
        for method, operation in item.items():
            if method not in _HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            keyed = operation.get("security") != []
            if keyed:
                _add_kinds(responses, "401", unauthorized)
                _add_kinds(responses, "429", rate_limited)
                responses["429"].setdefault("headers", {})["Retry-After"] = {
                    "$ref": "#/components/headers/Retry-After"
                }
            if "requestBody" in operation:
                _add_kinds(responses, "413", too_large)
            if keyed:  # a 401 has no key to count against, so no headers
                for status, response in responses.items():
                    if status != "401" and "$ref" not in response:  # a $ref takes no siblings
                        response.setdefault("headers", {}).update(_HEADER_REFS)


def _add_kinds(responses: dict[str, Any], status: str, kinds: list[Any]) -> None:
    known = [k for k in kinds if k is not None]
    doc = problem_response_doc(known)
    existing = responses.get(status)
    if existing and MEDIA_TYPE in existing.get("content", {}):
        examples = existing["content"][MEDIA_TYPE].setdefault("examples", {})
        for slug, example in doc["content"][MEDIA_TYPE]["examples"].items():
            examples.setdefault(slug, example)
        return
    responses[status] = doc


def duplicate_operation_ids(doc: dict[str, Any]) -> list[str]:
    ids = Counter(
        operation.get("operationId")
        for item in doc["paths"].values()
        for method, operation in item.items()
        if method in _HTTP_METHODS
    )
    return sorted(str(i) for i, n in ids.items() if n > 1 and i)
