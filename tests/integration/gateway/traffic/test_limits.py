"""Limits a client can see: where its key stands on every answer, and a 429 saying when."""

import httpx

from tests.integration.gateway.traffic.conftest import Gateway


def _standing(response: httpx.Response) -> tuple[int, int, int]:
    h = response.headers
    return int(h["ratelimit-limit"]), int(h["ratelimit-remaining"]), int(h["ratelimit-reset"])


def test_every_answer_says_where_the_key_stands(gateway: Gateway) -> None:
    with gateway.client() as client:
        ok = client.get("/v1/communities/cmt_1")
        missing = client.get("/v1/communities/missing")  # the service's own 404
        nowhere = client.get("/v1/nothing-here")  # the gateway's 404
    assert ok.status_code == 200 and _standing(ok) == (1000, 999, 1)
    assert missing.status_code == 404 and _standing(missing) == (1000, 998, 2)
    assert nowhere.status_code == 404 and _standing(nowhere) == (1000, 997, 3)


def test_past_the_burst_a_429_problem_says_when_to_come_back(gateway: Gateway) -> None:
    with gateway.client() as client:
        created = [client.post("/v1/communities", json={"name": "x"}) for _ in range(5)]
        refused = client.post("/v1/communities", json={"name": "x"})
        read = client.get("/v1/communities/cmt_1")
    assert [r.status_code for r in created] == [201] * 5
    assert [_standing(r)[1] for r in created] == [4, 3, 2, 1, 0]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/rate-limited")
    assert refused.headers["retry-after"] == "1"  # writes refill at one a second
    limit, remaining, reset = _standing(refused)
    assert (limit, remaining) == (5, 0) and 4 <= reset <= 5
    # Reads have a budget of their own, untouched by the writes.
    assert read.status_code == 200 and _standing(read)[:2] == (1000, 999)


def test_keys_do_not_share_a_bucket(gateway: Gateway) -> None:
    with gateway.client() as first, gateway.client() as second:
        for _ in range(5):
            first.post("/v1/communities", json={"name": "x"})
        assert first.post("/v1/communities", json={"name": "x"}).status_code == 429
        assert second.post("/v1/communities", json={"name": "x"}).status_code == 201
