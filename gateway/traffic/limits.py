"""Request rate limits a client can see: a token bucket per API key and route class, kept in
this replica's memory (as Envoy's local rate limit is), told on every response.

Each bucket holds up to `burst` tokens and refills at `rate` a second; a request spends one.
Reads, writes and ingestion are separate classes with buckets of their own, so a bot's bulk
ingestion never eats the budget its dashboard reads from.

Per replica: N gateway replicas behind a round-robin balancer let a key through at up to N×
the rate and N× the burst, and a client pinned to one replica (keep-alive) gets exactly one
share. Nothing is shared between replicas, so no request waits on a store to be counted.
"""

import math
import threading
import time
from dataclasses import dataclass
from typing import Literal

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.access.callers import Caller
from gateway.settings import GatewaySettings
from services.common.http.problems import Problem

RouteClass = Literal["read", "write", "ingest"]

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths whose calls count as ingestion, whatever their method: bots pushing activity in bulk.
INGEST_PREFIXES = ("/v1/ingest/",)
# Where the verdict waits for the response, in the ASGI scope's `state` (request.state).
_STATE_KEY = "rate_limit"


def route_class(method: str, path: str) -> RouteClass:
    """Which budget a call spends: ingestion by its path, else reads apart from writes."""
    if path.startswith(INGEST_PREFIXES):
        return "ingest"
    return "read" if method in _READS else "write"


@dataclass(frozen=True)
class Quota:
    rate: float  # tokens a second
    burst: int  # the bucket's size: what `RateLimit-Limit` says


@dataclass(frozen=True)
class Verdict:
    """Where a key stands after one request; `retry_after` is 0 when it was let through."""

    limit: int
    remaining: int
    reset: int  # whole seconds until the bucket is full again
    retry_after: float

    @property
    def allowed(self) -> bool:
        return self.retry_after == 0

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset).encode()),
        ]


class RateLimiter:
    """Token buckets by name (a key and a route class), refilled lazily when next touched."""

    def __init__(self, quotas: dict[RouteClass, Quota], *, max_buckets: int = 100_000):
        self.quotas = quotas
        self._buckets: dict[tuple[str, str], list[float]] = {}  # [tokens, updated]
        self._max = max_buckets
        # Routes run on the event loop, but sync dependencies run in threads: keep one
        # bucket's read-modify-write whole.
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> "RateLimiter":
        return cls(
            {
                "read": Quota(settings.rate_limit_per_second, settings.rate_limit_burst),
                "write": Quota(
                    settings.rate_limit_write_per_second, settings.rate_limit_write_burst
                ),
                "ingest": Quota(
                    settings.rate_limit_ingest_per_second, settings.rate_limit_ingest_burst
                ),
            }
        )

    def take(
        self,
        key: str,
        route: RouteClass = "read",
        *,
        rate: float | None = None,
        burst: int | None = None,
        now: float | None = None,
    ) -> Verdict:
        """Spend one token of `key`'s bucket for `route`. `rate` and `burst` override the
        class's quota for this key (a limit configured on the key itself)."""
        quota = self.quotas[route]
        rate = quota.rate if rate is None else rate
        burst = quota.burst if burst is None else burst
        now = time.monotonic() if now is None else now
        name = (key, route)
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None:
                if len(self._buckets) >= self._max:
                    self._forget_full(now)
                bucket = self._buckets[name] = [float(burst), now]
            tokens = min(float(burst), bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            bucket[0] = tokens
        return Verdict(
            limit=burst,
            remaining=int(tokens),
            reset=math.ceil((burst - tokens) / rate),
            retry_after=0.0 if allowed else (1 - tokens) / rate,
        )

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: a full bucket and no bucket are the same."""
        for name, (tokens, updated) in list(self._buckets.items()):
            quota = self.quotas[name[1]]  # type: ignore[index]
            if tokens + (now - updated) * quota.rate >= quota.burst:
                del self._buckets[name]
        if len(self._buckets) >= self._max:  # all busy: the oldest goes, as the LRU would
            del self._buckets[next(iter(self._buckets))]


def spend(request: Request, caller: Caller) -> None:
    """Spend one token of the caller's budget for this kind of call (authentication calls
    this, so every authenticated route is limited), keeping the verdict for the response's
    headers; past the budget, a 429."""
    limiter: RateLimiter = request.app.state.rate_limits
    route = route_class(request.scope["method"], request.scope["path"])
    verdict = limiter.take(caller.key_id, route)
    request.scope.setdefault("state", {})[_STATE_KEY] = verdict
    if not verdict.allowed:
        raise Problem(
            429,
            "rate-limited",
            "Too many requests",
            f"This caller may make {verdict.limit} {route} requests at once, refilled at "
            f"{limiter.quotas[route].rate:g} a second.",
            headers={"Retry-After": str(max(1, math.ceil(verdict.retry_after)))},
        )


class RateLimitHeaders:
    """ASGI middleware: the `RateLimit-*` headers of the request's verdict on its response,
    whatever answered it (the service, a problem raised here, the 429 itself)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                verdict: Verdict | None = scope.get("state", {}).get(_STATE_KEY)
                if verdict is not None:
                    message["headers"] = [*message.get("headers", ()), *verdict.headers()]
            await send(message)

        await self.app(scope, receive, send_with_limits)
