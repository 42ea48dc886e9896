"""Which service answers which path, and forwarding a call to it with the caller's identity."""

import re
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from fastapi import Request
from fastapi.responses import Response

from gateway.keys import Caller
from gateway.settings import GatewaySettings
from services.common.http.identity import ACTOR_HEADER, INTERNAL_TOKEN_HEADER, WORKSPACE_HEADER
from services.common.http.middleware import REQUEST_ID_HEADER
from services.common.http.problems import Problem
from services.common.observability import request_id_var
from services.common.outages import RETRY_AFTER_SECONDS

_COMMUNITY = r"^/v1/communities/[^/]+/"

# First match wins; more specific paths come first.
ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/v1/metrics(/|$)"), "metrics"),
    (re.compile(_COMMUNITY + r"(contents|schedules|calendar|submissions|sops)(/|$)"), "content"),
    (re.compile(_COMMUNITY + r"(activities|challenges|lotteries)(/|$)"), "events"),
    (re.compile(r"^/v1/(contents|schedules|submissions|sops)(/|$)"), "content"),
    (re.compile(r"^/v1/(activities|challenges|lotteries)(/|$)"), "events"),
    (re.compile(r"^/v1/(communities|members)(/|$)"), "members"),
]

# Sent on to the service; everything else the client sent stays at the gateway.
_FORWARDED_REQUEST_HEADERS = ("content-type", "accept", "idempotency-key", "accept-language")
# Bytes a client may send unescaped in a target; anything else (raw UTF-8) is escaped on.
_URL_SAFE = "/:?#[]@!$&'()*+,;=%"
_RETURNED_RESPONSE_HEADERS = (
    "content-type",
    "location",
    "retry-after",
    "idempotent-replayed",
    "allow",
)


@dataclass(frozen=True)
class Upstreams:
    urls: dict[str, str]

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> "Upstreams":
        return cls(
            {
                "members": settings.members_url,
                "content": settings.content_url,
                "events": settings.events_url,
                "metrics": settings.metrics_url,
            }
        )

    def resolve(self, path: str) -> str | None:
        """The base URL of the service that owns `path`, or None."""
        for pattern, service in ROUTES:
            if pattern.match(path):
                return self.urls[service]
        return None


async def forward(
    request: Request,
    *,
    client: httpx.AsyncClient,
    base_url: str,
    caller: Caller,
    internal_token: str,
    body: bytes,
) -> Response:
    # Header values go on as the bytes that came in: a client's non-ASCII `Idempotency-Key`
    # is the service's to judge, and must not fail to encode here.
    headers = [
        (k.encode(), v.encode("latin-1"))
        for k in _FORWARDED_REQUEST_HEADERS
        if (v := request.headers.get(k))
    ]
    headers += [
        (INTERNAL_TOKEN_HEADER.encode(), internal_token.encode()),
        (WORKSPACE_HEADER.encode(), caller.workspace_id.encode()),
        (ACTOR_HEADER.encode(), f"api_key:{caller.key_id}".encode()),
        (REQUEST_ID_HEADER.encode(), (request_id_var.get() or "").encode()),
    ]
    # The path and query as the client encoded them, not decoded and encoded again.
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string", b"")
    target = base_url + quote(raw_path + (b"?" + query if query else b""), safe=_URL_SAFE)
    try:
        upstream = await client.request(
            request.method,
            httpx.URL(target),
            content=body,
            headers=headers,
        )
    except httpx.TimeoutException as exc:
        raise Problem(504, "gateway-timeout", "An upstream service did not answer in time") from exc
    except httpx.TransportError as exc:
        raise Problem(
            503,
            "unavailable",
            "Service unavailable",
            "The service behind this path is not reachable; try again shortly.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from exc
    out = {k: v for k in _RETURNED_RESPONSE_HEADERS if (v := upstream.headers.get(k))}
    return Response(content=upstream.content, status_code=upstream.status_code, headers=out)
