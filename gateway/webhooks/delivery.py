"""One delivery attempt: check the destination, sign, POST with a deadline, classify.

Nothing here touches the database; the dispatcher records what `attempt` returns.
"""

import asyncio
import functools
import ipaddress
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from prometheus_client import Counter
from yarl import URL

from gateway.webhooks import ssrf
from gateway.webhooks.metrics import ATTEMPT_SECONDS, ATTEMPTS
from gateway.webhooks.settings import Network, WebhookSettings
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


class GuardedResolver(AbstractResolver):
    """The connector's resolver: every address a name resolves to is checked by the guard
    when the connection is made, so the address connected to is the one checked (a name
    re-pointed inward after the endpoint was saved is refused). The connector caches the
    answers briefly (`ttl_dns_cache`): at a thousand deliveries a second, one lookup per
    delivery would be the bottleneck. IP literals never reach a resolver; `attempt` checks
    them itself."""

    def __init__(self, allowed: Sequence[Network], inner: AbstractResolver | None = None):
        self._allowed = allowed
        self._inner = inner or ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            answers = await self._inner.resolve(host, port, family)
        except OSError as exc:
            raise ssrf.DestinationRefused(f"{host} does not resolve") from exc
        for answer in answers:
            ssrf.check_address(answer["host"], self._allowed)
        return answers

    async def close(self) -> None:
        await self._inner.close()


def open_session(settings: WebhookSettings) -> aiohttp.ClientSession:
    """The dispatcher's one HTTP client: pooled connections, bounded overall and per host,
    resolved through the guard. Never through an environment proxy (`trust_env` off): the
    guard checked the address we connect to."""
    connector = aiohttp.TCPConnector(
        limit=settings.webhook_max_in_flight,
        limit_per_host=settings.webhook_endpoint_max_in_flight,
        resolver=GuardedResolver(settings.allowed_networks),
        ttl_dns_cache=5,
        keepalive_timeout=30,
    )
    return aiohttp.ClientSession(
        connector=connector,
        trust_env=False,
        # No cookies carried from one receiver's answer into the next delivery.
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=settings.webhook_attempt_timeout_seconds),
        skip_auto_headers=("User-Agent",),
        auto_decompress=False,
    )


@functools.lru_cache(maxsize=4096)
def _target(url: str) -> URL:
    """The endpoint's URL parsed once, not by aiohttp at every delivery."""
    return URL(url)


@functools.lru_cache(maxsize=4096)
def _ip_literal_host(url: str) -> str | None:
    """The URL's host if it is an IP literal, else None (a name, for the resolver). Raises
    `DestinationRefused` for a URL we never send to. Cached: an endpoint's URL is parsed
    once, not at every delivery."""
    ssrf.parse_destination(url)
    host = URL(url).raw_host or ""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    return host


@functools.lru_cache(maxsize=4096)
def _check_literal(address: str, allowed: tuple[Network, ...]) -> None:
    """`ssrf.check_address`, remembered for addresses that pass: an IP literal's verdict
    never changes for the same allow-list (a refusal raises, and is not remembered)."""
    ssrf.check_address(address, allowed)


@functools.cache
def _attempts(outcome: str) -> "Counter":
    """The outcome's counter, looked up once (a labelled lookup per delivery costs µs)."""
    return ATTEMPTS.labels(outcome)


def _failure(status: int) -> str:
    # 410 Gone is the receiver saying "stop": the endpoint is disabled, not retried.
    return "gone" if status == 410 else "http_error"


async def attempt(
    client: aiohttp.ClientSession,
    allowed: Sequence[Network],
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
        literal = _ip_literal_host(job.url)
        if literal is not None:
            # The connector skips its resolver for an IP literal: check it here, on the host
            # as aiohttp parses it.
            _check_literal(literal, tuple(allowed))
        headers = signed_headers(
            msg_id=job.event_id,
            body=job.body,
            timestamp=int(time.time()),
            secret=job.secret,
            previous_secret=job.previous_secret,
            previous_expires_at=job.previous_secret_expires_at,
            now=attempted_at,
        )
        async with (
            asyncio.timeout(timeout_seconds),
            client.post(
                _target(job.url), data=job.body, headers=headers, allow_redirects=False
            ) as response,
        ):
            status = response.status
            chunks = bytearray()
            while len(chunks) < excerpt_bytes:
                chunk = await response.content.read(excerpt_bytes - len(chunks))
                if not chunk:
                    break
                chunks += chunk
            excerpt = bytes(chunks).decode("utf-8", "replace")
            retry_after = retry_after_seconds(response.headers.get("retry-after"), attempted_at)
        outcome = "delivered" if 200 <= status < 300 else _failure(status)
    except ssrf.DestinationRefused as exc:
        outcome, error = "blocked", str(exc)
    except TimeoutError:
        outcome, error = "timeout", f"no answer within {timeout_seconds:g} s"
    except (aiohttp.ClientError, OSError) as exc:
        if isinstance(exc.__cause__, ssrf.DestinationRefused):
            outcome, error = "blocked", str(exc.__cause__)
        else:
            outcome, error = "connection_error", f"{type(exc).__name__}: {exc}"[:500]
    latency = time.perf_counter() - started
    _attempts(outcome).inc()
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
