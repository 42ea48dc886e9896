"""One OpenAPI document for the public API: the services' documents merged, with bearer auth."""

import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)


async def merged_openapi(
    client: httpx.AsyncClient, urls: dict[str, str], *, own: dict[str, Any], version: str
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Qunyun API",
            "version": version,
            "description": "Run and measure chat communities. Authenticate with "
            "`Authorization: Bearer <api key>`; errors are RFC 9457 problems.",
        },
        "paths": {},
        "components": {
            "schemas": {},
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
    for service, base in urls.items():
        try:
            response = await client.get(base + "/openapi.json", timeout=3)
            response.raise_for_status()
            upstream = response.json()
        except (httpx.HTTPError, ValueError):
            log.warning("openapi of %s unavailable; left out", service)
            continue
        _add(doc, upstream)
    return doc


def _add(doc: dict[str, Any], part: dict[str, Any]) -> None:
    doc["paths"].update(
        {p: ops for p, ops in part.get("paths", {}).items() if p.startswith("/v1/")}
    )
    doc["components"]["schemas"].update(part.get("components", {}).get("schemas", {}))
