import pytest

from gateway.traffic.limits import Quota, RateLimiter, route_class


def _limiter(rate: float = 10, burst: int = 3) -> RateLimiter:
    quota = Quota(rate, burst)
    return RateLimiter({"read": quota, "write": quota, "ingest": Quota(100, 50)})


def test_a_key_gets_its_burst_then_waits_for_the_refill() -> None:
    limiter = _limiter(rate=10, burst=3)
    verdicts = [limiter.take("k", now=0.0) for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, True]
    assert [v.remaining for v in verdicts] == [2, 1, 0]
    refused = limiter.take("k", now=0.0)
    assert not refused.allowed and refused.retry_after == pytest.approx(0.1)
    assert refused.limit == 3 and refused.remaining == 0 and refused.reset == 1
    assert limiter.take("k", now=0.1).allowed


def test_reset_counts_the_seconds_until_the_bucket_is_full_again() -> None:
    limiter = _limiter(rate=1, burst=10)
    for _ in range(10):
        verdict = limiter.take("k", now=0.0)
    assert verdict.remaining == 0 and verdict.reset == 10
    assert limiter.take("k", now=4.5).reset == 7  # 3.5 tokens back, one spent: 7.5 s to go


def test_keys_and_route_classes_are_limited_separately() -> None:
    limiter = _limiter(rate=1, burst=1)
    assert limiter.take("a", "read", now=0.0).allowed
    assert limiter.take("b", "read", now=0.0).allowed
    assert not limiter.take("a", "read", now=0.0).allowed
    assert limiter.take("a", "write", now=0.0).allowed
    assert limiter.take("a", "ingest", now=0.0).limit == 50


def test_a_limit_configured_on_the_key_overrides_its_class() -> None:
    limiter = _limiter(rate=1, burst=1)
    verdicts = [limiter.take("vip", rate=100, burst=5, now=0.0) for _ in range(6)]
    assert [v.allowed for v in verdicts] == [True] * 5 + [False]
    assert verdicts[-1].limit == 5 and verdicts[-1].retry_after == pytest.approx(0.01)


def test_full_buckets_are_forgotten_when_room_is_needed() -> None:
    limiter = RateLimiter({"read": Quota(1, 1)}, max_buckets=2)
    limiter.take("a", now=0.0)
    limiter.take("b", now=0.0)
    limiter.take("c", now=5.0)  # a and b are full again by now: both go, c stays
    assert limiter.take("c", now=5.0).allowed is False


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/v1/communities", "read"),
        ("HEAD", "/v1/communities", "read"),
        ("POST", "/v1/communities", "write"),
        ("DELETE", "/v1/communities/cmt_1", "write"),
        ("POST", "/v1/ingest/messages", "ingest"),
        ("GET", "/v1/ingest/messages", "ingest"),
    ],
)
def test_calls_spend_the_budget_of_their_class(method: str, path: str, expected: str) -> None:
    assert route_class(method, path) == expected
