"""Forwarding a call to the service that owns it: the caller's identity added, one retry of
an idempotent call whose connection failed, the upstream's breaker consulted and told, and the
answer streamed back as it arrives (a CSV export of a million rows never sits here whole)."""

from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
from fastapi import Request
from fastapi.responses import Response, StreamingResponse

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
_INTERNAL_TOKEN, _WORKSPACE, _ACTOR = (
    h.lower().encode() for h in (INTERNAL_TOKEN_HEADER, WORKSPACE_HEADER, ACTOR_HEADER)
)
_REQUEST_ID = b"x-request-id"
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
# an idempotent call again. A timeout is not among them: the service is slow, and a second
# call would only add to its load.
_CONNECTION_ERRORS = (httpx.NetworkError, httpx.ConnectTimeout, httpx.RemoteProtocolError)


def retryable(method: str, idempotency_key: bool) -> bool:
    """Whether a call may be sent twice: idempotent methods, and POSTs carrying a key the
    service deduplicates on."""
    return method in _IDEMPOTENT or (method == "POST" and idempotency_key)


async def forward(
    request: Request,
    *,
    client: httpx.AsyncClient,
    upstream: Upstream,
    timeout: httpx.Timeout,
    caller: Caller,
    internal_token: str,
    body: bytes,
) -> Response:
    # Header values go on as the bytes that came in: a client's non-ASCII `Idempotency-Key`
    # is the service's to judge, and must not fail to encode here. One pass over the raw list.
    scope = request.scope
    headers = [(k, v) for k, v in scope["headers"] if k in _FORWARDED_REQUEST_HEADERS and v]
    headers += [
        (_INTERNAL_TOKEN, internal_token.encode()),
        (_WORKSPACE, caller.workspace_id.encode()),
        (_ACTOR, caller.actor.encode()),
        (_REQUEST_ID, (request_id_var.get() or "").encode()),
    ]
    # The path and query as the client encoded them, not decoded and encoded again.
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    target = upstream.url + quote(raw_path + (b"?" + query if query else b""), safe=_URL_SAFE)
    method: str = scope["method"]
    outgoing = client.build_request(
        method, httpx.URL(target), content=body, headers=headers, timeout=timeout
    )
    keyed = any(k == b"idempotency-key" for k, _ in headers)
    attempts = 2 if retryable(method, keyed) else 1
    breaker = upstream.breaker
    for attempt in range(attempts):
        breaker.admit()
        try:
            answer = await client.send(outgoing, stream=True)
            break
        except _CONNECTION_ERRORS as exc:
            breaker.failed()
            if attempt + 1 < attempts:
                UPSTREAM_RETRIES.labels(upstream.name).inc()
                continue
            raise _unreachable(upstream) from exc
        except httpx.TimeoutException as exc:
            if not isinstance(exc, httpx.PoolTimeout):  # our pool, not the service, is full
                breaker.failed()
            raise Problem(
                504,
                "gateway-timeout",
                "An upstream service did not answer in time",
                f"The {upstream.name} service did not answer within "
                f"{timeout.read if timeout.read else 0:g} seconds.",
            ) from exc
        except httpx.TransportError as exc:
            breaker.failed()
            raise _unreachable(upstream) from exc
        except BaseException:
            breaker.abandoned()  # cancelled: no verdict on the service, a probe's place freed
            raise
    if answer.status_code in UNWELL_STATUSES:
        breaker.failed()
    else:
        breaker.succeeded()
    try:
        return await _relayed(answer)
    except httpx.TransportError as exc:  # the service went away while sending a small body
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


async def _relayed(answer: httpx.Response) -> Response:
    """The service's answer as the client's: its status and end-to-end headers, its body
    as raw bytes (still compressed if it was), streamed unless small and of known length."""
    dropped = _DROPPED_RESPONSE_HEADERS
    if listed := answer.headers.get("connection"):  # headers it names are hop-by-hop too
        dropped = dropped | {n.strip().lower().encode() for n in listed.split(",")}
    headers = [(k, v) for k, v in answer.headers.raw if k.lower() not in dropped]
    declared = answer.headers.get("content-length", "")
    if declared.isdigit() and int(declared) <= _WHOLE_BELOW:
        try:
            content = b"".join([chunk async for chunk in answer.aiter_raw()])
        finally:
            await answer.aclose()
        response = Response(content, status_code=answer.status_code)
        response.raw_headers = headers
        return response
    streamed = StreamingResponse(_body_of(answer), status_code=answer.status_code)
    streamed.raw_headers = headers
    return streamed


async def _body_of(answer: httpx.Response) -> AsyncIterator[bytes]:
    # The upstream connection goes back to the pool (or is closed) however the stream ends:
    # done, the client gone, or the service failing mid-way.
    try:
        async for chunk in answer.aiter_raw():
            yield chunk
    finally:
        await answer.aclose()
