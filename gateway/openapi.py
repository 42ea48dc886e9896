"""One OpenAPI document for the public API: the services' documents merged, with bearer auth.

Each service's document is already true of the service (the kit's `install_openapi`); what
the gateway adds is what the gateway itself answers: 401 without a valid key, 429 past the
rate limit, 413 past the body limit.
"""

import asyncio
import logging
from collections import Counter
from typing import Any

import httpx

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


async def merged_openapi(
    client: httpx.AsyncClient,
    urls: dict[str, str],
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
    parts = await asyncio.gather(*(_fetch(client, service, base) for service, base in urls.items()))
    for part in parts:
        if part is not None:
            _add(doc, part)
    _add_gateway_problems(doc)
    twice = duplicate_operation_ids(doc)
    if twice:
        log.warning("operation ids used twice in the merged document", extra={"ids": twice})
    return doc


async def _fetch(client: httpx.AsyncClient, service: str, base: str) -> dict[str, Any] | None:
    try:
        response = await client.get(base + "/openapi.json", timeout=10)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document
    except (httpx.HTTPError, ValueError):
        log.warning("openapi of %s unavailable; left out", service)
        return None


def _add(doc: dict[str, Any], part: dict[str, Any]) -> None:
    doc["paths"].update(
        {p: ops for p, ops in part.get("paths", {}).items() if p.startswith("/v1/")}
    )
    doc["components"]["schemas"].update(part.get("components", {}).get("schemas", {}))


def _add_gateway_problems(doc: dict[str, Any]) -> None:
    """The gateway's own answers, on every operation they can come from."""
    unauthorized = [problem_kind("unauthorized"), problem_kind("invalid-api-key")]
    rate_limited = [problem_kind("rate-limited")]
    too_large = [problem_kind("payload-too-large")]
    for item in doc["paths"].values():
        for method, operation in item.items():
            if method not in _HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            if operation.get("security") != []:
                _add_kinds(responses, "401", unauthorized)
                _add_kinds(responses, "429", rate_limited)
            if "requestBody" in operation:
                _add_kinds(responses, "413", too_large)


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
