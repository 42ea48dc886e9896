"""A service stopped behind the gateway: calls fail, the breaker opens and answers fast, and
closes again once the service is back."""

import time

import httpx

from tests.integration.gateway.traffic.conftest import Gateway, Served, Upstream, wait_for


def test_the_breaker_opens_when_the_service_stops_and_closes_when_it_returns(
    gateway: Gateway, upstream: tuple[Upstream, Served]
) -> None:
    _, served = upstream
    with gateway.client() as client:
        assert client.get("/v1/communities/cmt_1").status_code == 200
        assert gateway.breaker_state("members") == 0
        served.stop()
        try:
            # Connection refused: each GET is tried twice, so five calls make ten failures.
            unreachable = [client.get("/v1/communities/cmt_1") for _ in range(5)]
            assert [r.status_code for r in unreachable] == [503] * 5
            assert gateway.breaker_state("members") == 2

            started = time.perf_counter()
            fast = client.get("/v1/communities/cmt_1")
            assert time.perf_counter() - started < 0.5
            assert fast.status_code == 503
            assert fast.headers["content-type"] == "application/problem+json"
            assert "not calling it" in fast.json()["detail"]
            assert fast.headers["retry-after"] == "1"
            assert "ratelimit-remaining" in fast.headers
            # Other services keep their own breakers.
            assert gateway.breaker_state("content") == 0
        finally:
            served.start()

        # Once open_seconds have passed, the next call is the probe; it succeeds and closes.
        def answered() -> bool:
            return client.get("/v1/communities/cmt_1").status_code == 200

        wait_for(answered, timeout=10, what="the breaker to let a probe through")
        assert gateway.breaker_state("members") == 0
        assert client.get("/v1/communities/cmt_1").status_code == 200


def test_a_probe_that_fails_opens_the_breaker_again(
    gateway: Gateway, upstream: tuple[Upstream, Served]
) -> None:
    _, served = upstream
    with gateway.client() as client:
        served.stop()
        try:
            for _ in range(5):
                client.get("/v1/communities/cmt_1")
            assert gateway.breaker_state("members") == 2
            time.sleep(1.1)
            # The probe reaches for the service and is refused; its retry finds the breaker
            # open again.
            assert client.get("/v1/communities/cmt_1").status_code == 503
            assert gateway.breaker_state("members") == 2
            assert "not calling it" in client.get("/v1/communities/cmt_1").json()["detail"]
        finally:
            served.start()
        time.sleep(1.1)
        assert client.get("/v1/communities/cmt_1").status_code == 200
        assert gateway.breaker_state("members") == 0


def test_metrics_show_each_upstream_breaker(gateway: Gateway) -> None:
    text = httpx.get(f"{gateway.url}/metrics", timeout=5).text
    for name in ("members", "content", "events", "metrics"):
        assert f'qunyun_gateway_upstream_breaker_state{{upstream="{name}"}}' in text
