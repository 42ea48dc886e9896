"""Forwarding a call to the service that owns it: the caller's identity added, one retry of
an idempotent call whose connection failed, the upstream's breaker consulted and told, and the
answer streamed back as it arrives (a CSV export of a million rows never sits here whole)."""

from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from yarl import URL

from gateway.access.callers import Caller
from gateway.traffic.breakers import UNWELL_STATUSES, UPSTREAM_RETRIES
from gateway.traffic.routing import Upstream
from services.common.http.identity import ACTOR_HEADER, INTERNAL_TOKEN_HEADER, WORKSPACE_HEADER
from services.common.http.problems import Problem
from services.common.observability import request_id_var
from services.common.outages import RETRY_AFTER_SECONDS

# Sent on to the service; everything else the client sent stays at the gateway (identity
# headers above all: services trust them from the gateway only).
_FORWARDED_REQUEST_HEADERS = frozenset(
    {
        b"content-type",
        b"accept",
        b"idempotency-key",
        b"accept-language",
        b"if-match",
        b"if-none-match",
    }
)
_REQUEST_ID = "X-Request-Id"
# Bytes a client may send unescaped in a target; anything else (raw UTF-8) is escaped on.
_URL_SAFE = "/:?#[]@!$&'()*+,;=%"

# Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection, not the message; `date` and
# `server` are this server's to say, and the request id is set once, by the request middleware.
_DROPPED_RESPONSE_HEADERS = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"date",
        b"server",
        b"x-request-id",
    }
)
# An answer this small, with its length declared, is read whole and sent in one go: cheaper
# than streaming it, and memory stays bounded by this.
_WHOLE_BELOW = 64 * 1024

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# The request may not have reached the service, or its answer never came back: safe to send
# an idempotent call again (refused, reset, a pooled connection the service had closed, no
# connection within the connect timeout). A read timeout is not among them: the service is
# slow, and a second call would only add to its load. aiohttp's timeouts are connection
# errors too, so they are told apart first.
_CONNECTION_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)
# aiohttp itself sends an idempotent call once more when the connection dropped after it was
# sent (RFC 9112 §9.3.1), not when none could be made: those are not sent a third time here.
_RETRIED_BY_AIOHTTP = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_DROPPED = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


def upstream_session(
    *, connections: int = 200, keepalive_seconds: float = 4
) -> aiohttp.ClientSession:
    """One pool of keep-alive connections to the services for the process. Connections idle
    longer than the services' own keep-alive (uvicorn's 5 s) are not reused: a call would
    race the service closing it. Bodies go on as they came (still compressed if they were),
    and the services see no proxy settings from the environment."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=connections, limit_per_host=0, keepalive_timeout=keepalive_seconds
        ),
        auto_decompress=False,
        skip_auto_headers=("User-Agent",),
        trust_env=False,
        raise_for_status=False,
    )


def retryable(method: str, idempotency_key: bool) -> bool:
    """Whether a call may be sent twice: idempotent methods, and POSTs carrying a key the
    service deduplicates on."""
    return method in _IDEMPOTENT or (method == "POST" and idempotency_key)


def _text(value: bytes) -> str:
    # aiohttp writes header values as UTF-8: a client's UTF-8 value goes on as the same bytes.
    try:
        return value.decode()
    except UnicodeDecodeError:
        return value.decode("latin-1")


async def forward(
    request: Request,
    *,
    client: aiohttp.ClientSession,
    upstream: Upstream,
    timeout: aiohttp.ClientTimeout,
    caller: Caller,
    internal_token: str,
    body: bytes,
) -> Response:
    # Header values go on as the bytes that came in: a client's non-ASCII `Idempotency-Key`
    # is the service's to judge, and must not fail to encode here. One pass over the raw list.
    scope = request.scope
    # Pairs, not a dict: a header the client sent twice goes on twice.
    headers = [
        (k.decode(), _text(v)) for k, v in scope["headers"] if k in _FORWARDED_REQUEST_HEADERS and v
    ]
    keyed = any(k == "idempotency-key" for k, _ in headers)
    headers += [
        (INTERNAL_TOKEN_HEADER, internal_token),
        (WORKSPACE_HEADER, caller.workspace_id),
        (ACTOR_HEADER, caller.actor),
        (_REQUEST_ID, request_id_var.get() or ""),
    ]
    # The path and query as the client encoded them, not decoded and encoded again.
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    target = URL(
        upstream.url + quote(raw_path + (b"?" + query if query else b""), safe=_URL_SAFE),
        encoded=True,
    )
    method: str = scope["method"]
    attempts = 2 if retryable(method, keyed) else 1
    breaker = upstream.breaker
    for attempt in range(attempts):
        breaker.admit()
        try:
            answer = await client.request(
                method, target, data=body or None, headers=headers, timeout=timeout
            )
            break
        except TimeoutError as exc:
            if isinstance(exc, aiohttp.ConnectionTimeoutError):  # no connection: as refused
                breaker.failed()
                if attempt + 1 < attempts:
                    UPSTREAM_RETRIES.labels(upstream.name).inc()
                    continue
                raise _unreachable(upstream) from exc
            breaker.failed()
            raise Problem(
                504,
                "gateway-timeout",
                "An upstream service did not answer in time",
                f"The {upstream.name} service did not answer within "
                f"{timeout.sock_read or 0:g} seconds.",
            ) from exc
        except _CONNECTION_ERRORS as exc:
            breaker.failed()
            already_retried = (
                isinstance(exc, _DROPPED)
                and not isinstance(exc, aiohttp.ClientConnectorError)
                and method in _RETRIED_BY_AIOHTTP
            )
            if attempt + 1 < attempts and not already_retried:
                UPSTREAM_RETRIES.labels(upstream.name).inc()
                continue
            raise _unreachable(upstream) from exc
        except BaseException:
            breaker.abandoned()  # cancelled: no verdict on the service, a probe's place freed
            raise
    if answer.status in UNWELL_STATUSES:
        breaker.failed()
    else:
        breaker.succeeded()
    try:
        return await _relayed(answer)
    except (*_CONNECTION_ERRORS, TimeoutError) as exc:  # gone while sending a small body
        breaker.failed()
        raise Problem(
            502,
            "bad-gateway",
            "An upstream service failed",
            f"The {upstream.name} service stopped in the middle of its answer.",
        ) from exc


def _unreachable(upstream: Upstream) -> Problem:
    return Problem(
        503,
        "unavailable",
        "Service unavailable",
        f"The {upstream.name} service is not reachable; try again shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _relayed(answer: aiohttp.ClientResponse) -> Response:
    """The service's answer as the client's: its status and end-to-end headers, its body
    as raw bytes (still compressed if it was), streamed unless small and of known length."""
    dropped = _DROPPED_RESPONSE_HEADERS
    if listed := answer.headers.get("connection"):  # headers it names are hop-by-hop too
        dropped = dropped | {n.strip().lower().encode() for n in listed.split(",")}
    headers = [(k.lower(), v) for k, v in answer.raw_headers if k.lower() not in dropped]
    declared = answer.headers.get("content-length", "")
    if declared.isdigit() and int(declared) <= _WHOLE_BELOW:
        try:
            content = await answer.read()
        finally:
            answer.release()
        response = Response(content, status_code=answer.status)
        response.raw_headers = headers
        return response
    streamed = StreamingResponse(_body_of(answer), status_code=answer.status)
    streamed.raw_headers = headers
    return streamed


async def _body_of(answer: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    # The upstream connection goes back to the pool once the answer is read to its end, and is
    # closed however else the stream ends (the client gone, the service failing mid-way).
    done = False
    try:
        async for chunk in answer.content.iter_any():
            yield chunk
        done = True
    finally:
        if done:
            answer.release()
        else:
            answer.close()
