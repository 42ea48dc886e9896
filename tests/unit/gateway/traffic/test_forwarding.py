import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from gateway.access.callers import Caller
from gateway.traffic.breakers import CircuitBreaker
from gateway.traffic.forwarding import forward, retryable
from gateway.traffic.routing import Upstream
from services.common.http.problems import Problem


class _CutShort(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"{"
        raise httpx.ReadError("connection reset")


def _forward(handler: Any, method: str = "GET") -> Any:
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": "/v1/communities/cmt_1",
        "raw_path": b"/v1/communities/cmt_1",
        "query_string": b"",
        "headers": [],
    }

    async def run() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await forward(
                Request(scope),
                client=client,
                upstream=Upstream(
                    "members", "http://members", CircuitBreaker("fwd", failures=5, open_seconds=1)
                ),
                timeout=httpx.Timeout(5),
                caller=Caller(key_id="key_1", workspace_id="ws_1"),
                internal_token="internal",
                body=b"",
            )

    return asyncio.run(run())


def test_a_service_gone_in_the_middle_of_a_small_answer_is_a_502() -> None:
    def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-length": "40"}, stream=_CutShort())

    with pytest.raises(Problem) as caught:
        _forward(upstream)
    assert caught.value.status == 502


def test_a_refused_connection_is_tried_again_only_for_idempotent_calls() -> None:
    attempts: list[str] = []

    def refused(request: httpx.Request) -> httpx.Response:
        attempts.append(request.method)
        raise httpx.ConnectError("refused")

    for method in ("GET", "POST"):
        with pytest.raises(Problem) as caught:
            _forward(refused, method)
        assert caught.value.status == 503
    assert attempts == ["GET", "GET", "POST"]


@pytest.mark.parametrize(
    ("method", "keyed", "expected"),
    [
        ("GET", False, True),
        ("HEAD", False, True),
        ("PUT", False, True),
        ("DELETE", False, True),
        ("POST", True, True),
        ("POST", False, False),
        ("PATCH", False, False),
    ],
)
def test_which_calls_may_be_sent_twice(method: str, keyed: bool, expected: bool) -> None:
    assert retryable(method, keyed) is expected
