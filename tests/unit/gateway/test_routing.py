import pytest

from gateway.limits import RateLimiter
from gateway.routing import Upstreams

UPSTREAMS = Upstreams({"members": "m", "content": "c", "events": "e", "metrics": "x"})


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        ("/v1/communities", "m"),
        ("/v1/communities/cmt_1", "m"),
        ("/v1/communities/cmt_1/members", "m"),
        ("/v1/communities/cmt_1/members/mbr_1/ban", "m"),
        ("/v1/metrics/communities/cmt_1/overview", "x"),
        ("/v1/communities/cmt_1/contents", "c"),
        ("/v1/communities/cmt_1/activities/act_1/registrations", "e"),
        ("/v1/activities/act_1", "e"),
        ("/v1/nothing-here", None),
        ("/v1/communitiesX", None),
        ("/v1/metricsfoo", None),
    ],
)
def test_each_path_goes_to_the_service_that_owns_it(path: str, owner: str | None) -> None:
    assert UPSTREAMS.resolve(path) == owner


def test_a_key_gets_its_burst_then_waits_for_the_refill() -> None:
    limiter = RateLimiter(per_second=10, burst=3)
    assert [limiter.take("k", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k", now=0.0) == pytest.approx(0.1)
    assert limiter.take("k", now=0.1) == 0.0


def test_keys_are_limited_separately() -> None:
    limiter = RateLimiter(per_second=1, burst=1)
    assert limiter.take("a", now=0.0) == 0.0
    assert limiter.take("b", now=0.0) == 0.0
    assert limiter.take("a", now=0.0) > 0
