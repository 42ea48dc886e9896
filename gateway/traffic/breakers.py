"""A circuit breaker per upstream service, so a service that is down costs its callers a fast
503 instead of a connect timeout each, and gets room to come back.

closed ──(`failures` calls in a row fail)──▶ open ──(`open_seconds` pass)──▶ half-open
half-open: the next call is let through as the probe, the others are refused meanwhile;
the probe succeeding closes the breaker, failing opens it again for another `open_seconds`.

A failure is a call that got no answer (connection refused or reset, a timeout) or an answer
saying the service itself is unwell (502, 503, 504). Any other answer, 500 included, is a
success here: it came from a service that is up, about one request.
"""

import math
import time
from collections.abc import Callable
from enum import IntEnum

from prometheus_client import Counter, Gauge

from services.common.http.problems import Problem


class State(IntEnum):
    # The gauge's values: 0 is healthy, and higher is worse, so `max()` over replicas alerts.
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


BREAKER_STATE = Gauge(
    "qunyun_gateway_upstream_breaker_state",
    "Circuit breaker per upstream service: 0 closed, 1 half-open (probing), 2 open.",
    ["upstream"],
)
BREAKER_REFUSED = Counter(
    "qunyun_gateway_upstream_breaker_refused_total",
    "Calls answered 503 by an open breaker without reaching the upstream.",
    ["upstream"],
)
UPSTREAM_RETRIES = Counter(
    "qunyun_gateway_upstream_retries_total",
    "Idempotent calls sent a second time after a connection error.",
    ["upstream"],
)

UNWELL_STATUSES = frozenset({502, 503, 504})


class CircuitBreaker:
    """One upstream's breaker. The gateway's routes run on one event loop, so no lock: every
    method runs to its end without yielding."""

    def __init__(
        self,
        upstream: str,
        *,
        failures: int,
        open_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.upstream = upstream
        self._threshold = failures
        self._open_seconds = open_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._probe_started: float | None = None
        self.state = State.CLOSED
        self._gauge = BREAKER_STATE.labels(upstream)
        self._gauge.set(State.CLOSED)

    def admit(self) -> None:
        """Let a call through, or refuse it with a 503 problem saying when to come back."""
        if self.state is State.CLOSED:
            return
        if self.state is State.OPEN:
            waited = self._clock() - self._opened_at
            if waited >= self._open_seconds:
                self._move(State.HALF_OPEN)
            else:
                self._refuse(self._open_seconds - waited)
        # Half-open: one probe at a time; the others wait for its verdict. A probe that never
        # told (its client went away mid-call) stops counting after `open_seconds`.
        now = self._clock()
        if self._probe_started is not None and now - self._probe_started < self._open_seconds:
            self._refuse(1.0)
        self._probe_started = now

    def succeeded(self) -> None:
        self._failures = 0
        self._probe_started = None
        if self.state is not State.CLOSED:
            self._move(State.CLOSED)

    def failed(self) -> None:
        self._failures += 1
        self._probe_started = None
        if self.state is State.HALF_OPEN or self._failures >= self._threshold:
            self._opened_at = self._clock()
            self._move(State.OPEN)

    def abandoned(self) -> None:
        """A call ended without a verdict (its client went away): a probe frees its place."""
        self._probe_started = None

    def retry_after(self) -> int:
        """Whole seconds until the breaker lets a probe through (0 when closed)."""
        if self.state is State.CLOSED:
            return 0
        return max(1, math.ceil(self._open_seconds - (self._clock() - self._opened_at)))

    def _move(self, state: State) -> None:
        self.state = state
        self._gauge.set(state)

    def _refuse(self, seconds: float) -> None:
        BREAKER_REFUSED.labels(self.upstream).inc()
        raise Problem(
            503,
            "unavailable",
            "Service unavailable",
            f"The {self.upstream} service is failing; the gateway is not calling it for a "
            "while. Try again after the time in Retry-After.",
            headers={"Retry-After": str(max(1, math.ceil(seconds)))},
        )
