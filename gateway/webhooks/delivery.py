"""One delivery attempt: check the destination, sign, POST with a deadline, classify.

Nothing here touches the database; the dispatcher records what `attempt` returns.
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from gateway.webhooks import ssrf
from gateway.webhooks.metrics import ATTEMPT_SECONDS, ATTEMPTS
from gateway.webhooks.settings import Network
from gateway.webhooks.signing import signed_headers


@dataclass(frozen=True)
class Job:
    """A claimed message with what is needed to send it."""

    message_id: str
    endpoint_id: str
    workspace_id: str
    event_id: str
    event_time: datetime
    body: bytes
    attempts: int
    url: str
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    rate_limit_per_second: float | None


@dataclass(frozen=True)
class Result:
    job: Job
    attempted_at: datetime
    outcome: str  # delivered, http_error, gone, timeout, connection_error, blocked
    status_code: int | None
    latency_ms: float
    response_excerpt: str
    error: str | None
    retry_after: float | None

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds from now: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class DestinationResolver:
    """Resolves and checks a URL's host, remembering answers briefly: at a thousand deliveries
    a second, one lookup per delivery would be the bottleneck."""

    def __init__(self, allowed: Sequence[Network], ttl_seconds: float = 5):
        self._allowed = allowed
        self._ttl = ttl_seconds
        self._cache: dict[tuple[str, int], tuple[float, list[str]]] = {}

    async def address(self, host: str, port: int) -> str:
        try:
            return str(ssrf.check_address(host, self._allowed))
        except ValueError:
            pass  # not an IP literal: a name to resolve
        cached = self._cache.get((host, port))
        if cached is None or cached[0] < time.monotonic():
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(host, port, type=2)  # SOCK_STREAM
            except OSError as exc:
                raise ssrf.DestinationRefused(f"{host} does not resolve") from exc
            addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
            cached = (time.monotonic() + self._ttl, addresses)
            self._cache[(host, port)] = cached
        for address in cached[1]:
            ssrf.check_address(address, self._allowed)
        return cached[1][0]


def _pinned_url(url: str, scheme: str, host: str, port: int, address: str) -> tuple[str, str]:
    """The URL with its host replaced by the checked address, and the Host header to send."""
    default = port == (443 if scheme == "https" else 80)
    host_header = host if default else f"{host}:{port}"
    return str(httpx.URL(url).copy_with(host=address, port=port)), host_header


def _failure(status: int) -> str:
    # 410 Gone is the receiver saying "stop": the endpoint is disabled, not retried.
    return "gone" if status == 410 else "http_error"


async def attempt(
    client: httpx.AsyncClient,
    resolver: DestinationResolver,
    job: Job,
    *,
    timeout_seconds: float,
    excerpt_bytes: int,
) -> Result:
    """Send `job` once. Only a 2xx is a delivery; redirects are not followed."""
    attempted_at = datetime.now(UTC)
    started = time.perf_counter()
    status: int | None = None
    excerpt, error, retry_after = "", None, None
    try:
        scheme, host, port = ssrf.parse_destination(job.url)
        address = await resolver.address(host, port)
        url, host_header = _pinned_url(job.url, scheme, host, port, address)
        headers = signed_headers(
            msg_id=job.event_id,
            body=job.body,
            timestamp=int(time.time()),
            secret=job.secret,
            previous_secret=job.previous_secret,
            previous_expires_at=job.previous_secret_expires_at,
            now=attempted_at,
        )
        headers["host"] = host_header
        extensions = {"sni_hostname": host} if scheme == "https" else {}
        async with asyncio.timeout(timeout_seconds):
            request = client.build_request(
                "POST", url, content=job.body, headers=headers, extensions=extensions
            )
            response = await client.send(request, stream=True)
            try:
                status = response.status_code
                chunks = bytearray()
                async for chunk in response.aiter_raw():
                    chunks += chunk
                    if len(chunks) >= excerpt_bytes:
                        break
                excerpt = bytes(chunks[:excerpt_bytes]).decode("utf-8", "replace")
                retry_after = retry_after_seconds(response.headers.get("retry-after"), attempted_at)
            finally:
                await response.aclose()
        outcome = "delivered" if 200 <= status < 300 else _failure(status)
    except ssrf.DestinationRefused as exc:
        outcome, error = "blocked", str(exc)
    except (TimeoutError, httpx.TimeoutException):
        outcome, error = "timeout", f"no answer within {timeout_seconds:g} s"
    except httpx.HTTPError as exc:
        outcome, error = "connection_error", f"{type(exc).__name__}: {exc}"[:500]
    latency = time.perf_counter() - started
    ATTEMPTS.labels(outcome).inc()
    if status is not None:
        ATTEMPT_SECONDS.observe(latency)
    return Result(
        job=job,
        attempted_at=attempted_at,
        outcome=outcome,
        status_code=status,
        latency_ms=round(latency * 1000, 3),
        response_excerpt=excerpt,
        error=error,
        retry_after=retry_after,
    )
