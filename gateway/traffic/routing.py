"""Which service answers which path, how long it may take, and its circuit breaker: the route
table, built once when the gateway starts, never per request."""

import re
from dataclasses import dataclass

import aiohttp

from gateway.settings import GatewaySettings
from gateway.traffic.breakers import CircuitBreaker

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


def owned(path: str) -> bool:
    """Whether a service owns `path` (a path, or a route template: they match alike)."""
    return any(pattern.match(path) for pattern, _ in ROUTES)


# Calls that legitimately take long before their first byte: reports computed and streamed
# as CSV. Everything else gets the ordinary timeout, so a hung service is noticed soon.
_LONG_CALLS = re.compile(r"/exports/|\.csv$")


@dataclass(frozen=True)
class Upstream:
    name: str
    url: str
    breaker: CircuitBreaker


class Upstreams:
    def __init__(
        self,
        urls: dict[str, str],
        *,
        breaker_failures: int = 5,
        breaker_open_seconds: float = 5,
        connect_timeout: float = 2,
        timeout: float = 10,
        export_timeout: float = 120,
    ):
        self.urls = urls
        self.by_name = {
            name: Upstream(
                name,
                url,
                CircuitBreaker(name, failures=breaker_failures, open_seconds=breaker_open_seconds),
            )
            for name, url in urls.items()
        }
        # `read` bounds each wait for bytes, not the whole call: a streamed export may go on
        # for as long as the service keeps sending.
        # `connect` covers waiting for a pooled connection as well as opening one.
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout, sock_connect=connect_timeout, sock_read=timeout
        )
        self._export_timeout = aiohttp.ClientTimeout(
            total=None,
            connect=connect_timeout,
            sock_connect=connect_timeout,
            sock_read=export_timeout,
        )

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> "Upstreams":
        return cls(
            {
                "members": settings.members_url,
                "content": settings.content_url,
                "events": settings.events_url,
                "metrics": settings.metrics_url,
            },
            breaker_failures=settings.breaker_failures,
            breaker_open_seconds=settings.breaker_open_seconds,
            connect_timeout=settings.upstream_connect_timeout_seconds,
            timeout=settings.upstream_timeout_seconds,
            export_timeout=settings.upstream_export_timeout_seconds,
        )

    def owner(self, path: str) -> Upstream | None:
        """The service that owns `path`, or None."""
        for pattern, service in ROUTES:
            if pattern.match(path):
                return self.by_name[service]
        return None

    def resolve(self, path: str) -> str | None:
        """The base URL of the service that owns `path`, or None."""
        upstream = self.owner(path)
        return upstream.url if upstream else None

    def timeout(self, path: str) -> aiohttp.ClientTimeout:
        return self._export_timeout if _LONG_CALLS.search(path) else self._timeout
