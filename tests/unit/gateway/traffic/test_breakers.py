import pytest

from gateway.traffic.breakers import BREAKER_STATE, CircuitBreaker, State
from services.common.http.problems import Problem


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _gauge(upstream: str) -> float:
    return BREAKER_STATE.labels(upstream)._value.get()


def _refused(breaker: CircuitBreaker) -> Problem:
    with pytest.raises(Problem) as caught:
        breaker.admit()
    return caught.value


def test_opens_after_failures_in_a_row_and_refuses_fast_with_retry_after() -> None:
    clock = Clock()
    breaker = CircuitBreaker("unit-a", failures=3, open_seconds=10, clock=clock)
    for _ in range(2):
        breaker.admit()
        breaker.failed()
    breaker.admit()
    breaker.succeeded()  # a success between failures starts the count again
    for _ in range(3):
        breaker.admit()
        breaker.failed()
    assert breaker.state is State.OPEN and _gauge("unit-a") == 2
    clock.now += 4
    refused = _refused(breaker)
    assert refused.status == 503 and refused.headers == {"Retry-After": "6"}


def test_half_open_lets_one_probe_through_and_its_success_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker("unit-b", failures=1, open_seconds=10, clock=clock)
    breaker.admit()
    breaker.failed()
    clock.now += 10
    breaker.admit()  # the probe
    assert breaker.state is State.HALF_OPEN and _gauge("unit-b") == 1
    assert _refused(breaker).status == 503  # others wait for its verdict
    breaker.succeeded()
    assert breaker.state is State.CLOSED and _gauge("unit-b") == 0
    breaker.admit()


def test_a_failed_probe_opens_the_breaker_for_another_period() -> None:
    clock = Clock()
    breaker = CircuitBreaker("unit-c", failures=5, open_seconds=10, clock=clock)
    for _ in range(5):
        breaker.admit()
        breaker.failed()
    clock.now += 10
    breaker.admit()
    breaker.failed()
    assert breaker.state is State.OPEN
    clock.now += 9
    assert _refused(breaker).headers == {"Retry-After": "1"}


def test_an_abandoned_probe_frees_its_place() -> None:
    clock = Clock()
    breaker = CircuitBreaker("unit-d", failures=1, open_seconds=10, clock=clock)
    breaker.admit()
    breaker.failed()
    clock.now += 10
    breaker.admit()
    breaker.abandoned()
    breaker.admit()  # a new probe, not refused
    assert breaker.state is State.HALF_OPEN
