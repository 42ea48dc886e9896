"""Forwarding: what goes on, what comes back, what is sent twice, what is streamed."""

import resource
import time
import uuid

from tests.integration.gateway.traffic.conftest import (
    CHUNK,
    EXPORT_CHUNKS,
    DroppingServer,
    Gateway,
    Served,
    Upstream,
)

EXPORT = "/v1/metrics/communities/cmt_1/exports/daily.csv"


def test_request_ids_are_passed_on_and_echoed_or_made(
    gateway: Gateway, upstream: tuple[Upstream, Served]
) -> None:
    service, _ = upstream
    with gateway.client() as client:
        given = client.get("/v1/communities/cmt_1", headers={"X-Request-Id": "req_client_42"})
        assert given.headers["x-request-id"] == "req_client_42"
        assert service.seen[-1]["x-request-id"] == "req_client_42"
        made = client.get("/v1/communities/cmt_1")
    assert made.headers["x-request-id"].startswith("req_")
    assert service.seen[-1]["x-request-id"] == made.headers["x-request-id"]
    assert service.seen[-1]["x-qunyun-workspace-id"] == "ws_traffic"
    assert "authorization" not in service.seen[-1]


def test_location_and_end_to_end_headers_come_back_hop_by_hop_ones_do_not(
    gateway: Gateway,
) -> None:
    with gateway.client() as client:
        created = client.post("/v1/communities", json={"name": "x"})
        read = client.get("/v1/communities/cmt_1")
    assert created.status_code == 201
    assert created.headers["location"] == "/v1/communities/cmt_new"
    assert read.headers["cache-control"] == "no-store"
    assert "keep-alive" not in read.headers
    assert "x-hop" not in read.headers  # named in the service's Connection header
    assert read.json() == {"id": "cmt_1"}


def test_idempotent_calls_are_sent_again_after_a_connection_error(
    gateway: Gateway, dropping: DroppingServer
) -> None:
    with gateway.client() as client:
        before = len(dropping.requests)
        assert client.get("/v1/activities/act_1").status_code == 503
        assert len(dropping.requests) - before == 2
        before = len(dropping.requests)
        keyed = client.post("/v1/activities", json={}, headers={"Idempotency-Key": "k-1"})
        assert keyed.status_code == 503 and len(dropping.requests) - before == 2


def test_a_post_without_an_idempotency_key_is_sent_once(
    gateway: Gateway, dropping: DroppingServer
) -> None:
    with gateway.client() as client:
        before = len(dropping.requests)
        response = client.post("/v1/activities", json={})
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert dropping.requests[before:] == [b"POST /v1/activities HTTP/1.1"]


def test_a_slow_service_is_a_504_after_the_route_timeout(gateway: Gateway) -> None:
    with gateway.client() as client:
        started = time.perf_counter()
        response = client.get("/v1/communities/slow")
    assert response.status_code == 504
    assert time.perf_counter() - started < 2.5  # the 1 s timeout, not the service's 3 s
    assert response.headers["content-type"] == "application/problem+json"


def test_an_export_may_take_longer_than_the_ordinary_timeout(gateway: Gateway) -> None:
    params = {"wait": 1.5, "chunks": 2}  # the first row after 1.5 s; the timeout is 1 s
    with gateway.client() as client:
        response = client.get(EXPORT, params=params)
    assert response.status_code == 200
    assert response.content == CHUNK * 2


def test_a_large_export_streams_through_without_sitting_in_the_gateway(
    gateway: Gateway, upstream: tuple[Upstream, Served]
) -> None:
    service, _ = upstream
    run = uuid.uuid4().hex
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, this process
    received = 0
    with (
        gateway.client(timeout=30) as client,
        client.stream("GET", EXPORT, params={"run": run, "gated": True}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-disposition"] == 'attachment; filename="daily.csv"'
        assert response.headers["content-type"].startswith("text/csv")
        assert "ratelimit-remaining" in response.headers
        chunks = response.iter_raw()
        received += len(next(chunks))
        # The first bytes are here while the service holds the rest back: nothing waits
        # for the whole body.
        assert run not in service.finished
        service.released.add(run)
        for chunk in chunks:
            received += len(chunk)
    assert received == len(CHUNK) * EXPORT_CHUNKS
    assert run in service.finished
    # The service, the gateway and this client share this process: 64 MiB went through it,
    # and its peak memory grew by far less.
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert grown_mib < 24, f"peak memory grew {grown_mib:.0f} MiB"
