import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from starlette.requests import Request

from gateway.access.callers import Caller
from gateway.traffic.breakers import CircuitBreaker
from gateway.traffic.forwarding import forward, retryable, upstream_session
from gateway.traffic.routing import Upstream
from services.common.http.problems import Problem

SCOPE: dict[str, Any] = {
    "type": "http",
    "method": "GET",
    "path": "/v1/communities/cmt_1",
    "raw_path": b"/v1/communities/cmt_1",
    "query_string": b"",
    "headers": [],
}


async def served(
    reply: bytes, then: Callable[[str], Awaitable[Any]], requests: list[bytes] | None = None
) -> Any:
    """Run `then` against a service on a loopback port that reads each request's head, writes
    `reply` (nothing: it hangs up) and closes the connection."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if requests is not None:
            requests.append(head)
        writer.write(reply)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        return await then(f"http://127.0.0.1:{port}")


def _forward(reply: bytes, method: str = "GET", requests: list[bytes] | None = None) -> Any:
    async def call(url: str) -> Any:
        async with upstream_session() as client:
            return await forward(
                Request({**SCOPE, "method": method}),
                client=client,
                upstream=Upstream(
                    "members", url, CircuitBreaker("fwd", failures=5, open_seconds=1)
                ),
                timeout=aiohttp.ClientTimeout(total=None, connect=5, sock_read=5),
                caller=Caller(key_id="key_1", workspace_id="ws_1"),
                internal_token="internal",
                body=b"",
            )

    return asyncio.run(served(reply, call, requests))


def test_a_service_gone_in_the_middle_of_a_small_answer_is_a_502() -> None:
    with pytest.raises(Problem) as caught:
        _forward(b"HTTP/1.1 200 OK\r\ncontent-length: 40\r\n\r\n{")
    assert caught.value.status == 502


def test_a_dropped_connection_is_tried_again_only_for_idempotent_calls() -> None:
    for method, tries in (("GET", 2), ("POST", 1)):
        requests: list[bytes] = []
        with pytest.raises(Problem) as caught:
            _forward(b"", method, requests)
        assert caught.value.status == 503
        assert [r.split(b" ", 1)[0].decode() for r in requests] == [method] * tries


def test_a_refused_connection_is_a_503_with_retry_after() -> None:
    async def refused() -> Any:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()  # nothing listens there any more
        async with upstream_session() as client:
            return await forward(
                Request(SCOPE),
                client=client,
                upstream=Upstream(
                    "members",
                    f"http://127.0.0.1:{port}",
                    CircuitBreaker("refused", failures=5, open_seconds=1),
                ),
                timeout=aiohttp.ClientTimeout(total=None, connect=5, sock_read=5),
                caller=Caller(key_id="key_1", workspace_id="ws_1"),
                internal_token="internal",
                body=b"",
            )

    with pytest.raises(Problem) as caught:
        asyncio.run(refused())
    assert caught.value.status == 503 and caught.value.headers["Retry-After"]


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
