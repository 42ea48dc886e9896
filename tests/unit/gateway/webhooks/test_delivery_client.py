"""The dispatcher's aiohttp client against a local server: the guard runs on the address the
connection is made to (names through the resolver, IP literals before), and redirects are
answers, not followed."""

import asyncio
from datetime import UTC, datetime

import pytest
from aiohttp import web

from gateway.webhooks.delivery import Job, Result, attempt, open_session
from gateway.webhooks.settings import WebhookSettings


async def _serve() -> tuple[web.AppRunner, int, list[str]]:
    seen: list[str] = []

    async def ok(request: web.Request) -> web.Response:
        await request.read()
        seen.append(request.path)
        return web.Response(status=204)

    async def moved(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(status=302, headers={"location": "/ok"}, text="moved along")

    async def slow(request: web.Request) -> web.Response:
        # Past the test's 0.3 s timeout; the server's cleanup waits for it to end.
        await asyncio.sleep(1.5)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/ok", ok)
    app.router.add_post("/moved", moved)
    app.router.add_post("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port, seen


async def _send(url: str, allowed: str, timeout: float = 5) -> tuple[list[Result], list[str]]:
    runner, port, seen = await _serve()
    settings = WebhookSettings(webhook_allowed_networks=allowed)
    job = Job(
        message_id="whm_1",
        endpoint_id="whe_1",
        workspace_id="ws_1",
        event_id="evt_1",
        event_time=datetime.now(UTC),
        body=b"{}",
        attempts=0,
        url=url.format(port=port),
        secret="whsec_" + "QUJD" * 8,
        previous_secret=None,
        previous_secret_expires_at=None,
        rate_limit_per_second=None,
    )
    try:
        async with open_session(settings) as client:
            results = [
                await attempt(
                    client,
                    settings.allowed_networks,
                    job,
                    timeout_seconds=timeout,
                    excerpt_bytes=5,
                )
            ]
    finally:
        await runner.cleanup()
    return results, seen


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_an_allow_listed_receiver_gets_the_delivery(host: str) -> None:
    [result], seen = asyncio.run(_send(f"http://{host}:{{port}}/ok", "127.0.0.0/8"))
    assert result.outcome == "delivered" and result.status_code == 204
    assert seen == ["/ok"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_at_delivery_without_allow_listing(host: str) -> None:
    """`localhost` goes through the connector's resolver; the literal is checked before."""
    [result], seen = asyncio.run(_send(f"http://{host}:{{port}}/ok", ""))
    assert result.outcome == "blocked" and result.status_code is None
    assert "127.0.0.1" in (result.error or "") or "::1" in (result.error or "")
    assert seen == []


def test_a_redirect_is_an_answer_not_followed() -> None:
    [result], seen = asyncio.run(_send("http://127.0.0.1:{port}/moved", "127.0.0.0/8"))
    assert result.outcome == "http_error" and result.status_code == 302
    assert result.response_excerpt == "moved"  # the first excerpt_bytes of the answer
    assert seen == ["/moved"]


def test_a_slow_receiver_times_out() -> None:
    [result], _ = asyncio.run(_send("http://127.0.0.1:{port}/slow", "127.0.0.0/8", timeout=0.3))
    assert result.outcome == "timeout"
