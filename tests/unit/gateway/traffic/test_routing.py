import pytest

from gateway.traffic.routing import Upstreams

UPSTREAMS = Upstreams(
    {"members": "m", "content": "c", "events": "e", "metrics": "x"},
    timeout=10,
    export_timeout=120,
)


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


def test_each_service_has_one_breaker_shared_by_all_its_paths() -> None:
    first = UPSTREAMS.owner("/v1/communities")
    second = UPSTREAMS.owner("/v1/members/mbr_1")
    assert first is not None and second is not None
    assert first.breaker is second.breaker
    assert first.breaker is not UPSTREAMS.by_name["content"].breaker


def test_csv_exports_may_wait_longer_for_their_first_bytes() -> None:
    export = UPSTREAMS.timeout("/v1/metrics/communities/cmt_1/exports/daily.csv")
    ordinary = UPSTREAMS.timeout("/v1/metrics/communities/cmt_1/overview")
    assert (export.sock_read, ordinary.sock_read) == (120, 10)
    assert export.connect == ordinary.connect == 2
