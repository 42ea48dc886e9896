"""Bots' signed single-event pushes for the gateway benchmark, sent the cheap way.

SENDERS concurrent senders on one asyncio loop, each on its own keep-alive aiohttp connection,
each push a fresh message signed with the integration's secret (a real Standard Webhooks
signature over the real body), each counted only on its 202. Not httpx: its eight threads
spent 1.8 ms of this process's CPU a push against aiohttp's 0.5 ms (same run, loaded machine),
CPU the gateway and Postgres need on two cores.
"""

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import orjson

from gateway.signatures import sign

SENDERS = 8


@dataclass(frozen=True)
class Sent:
    accepted: int
    wall_seconds: float
    client_cpu_seconds: float  # this process's CPU while sending: what the senders cost


def _signed(secret: str, share: int) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(
        {
            "type": "message_posted",
            "data": {
                "platform": "wechat",
                "group_external_id": f"grp_{share % 4}",
                "sender_external_id": "wx_bench",
                "message_external_id": uuid.uuid4().hex,
                "text": "大家好",
                "occurred_at": datetime.now(UTC).isoformat(),
            },
        }
    )
    msg_id, ts = uuid.uuid4().hex, int(time.time())
    return body, {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, msg_id=msg_id, timestamp=ts, body=body),
    }


async def _send_all(url: str, secret: str, count: int, senders: int) -> int:
    async def send(sender: int, share: int) -> int:
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(share):
                body, headers = _signed(secret, sender)
                async with session.post(url, data=body, headers=headers) as response:
                    text = await response.read()
                    if response.status != 202:
                        raise RuntimeError(f"push: {response.status} {text[:200]!r}")
        return share

    shares = [count // senders] * senders
    return sum(await asyncio.gather(*(send(i, share) for i, share in enumerate(shares))))


def push(gateway_url: str, integration: dict[str, str], count: int, senders: int = SENDERS) -> Sent:
    """`count` (rounded down to a multiple of `senders`) signed pushes; every one must be
    accepted (202), or this raises."""
    url = gateway_url + integration["inbound_path"]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    accepted = asyncio.run(_send_all(url, integration["secret"], count, senders))
    return Sent(accepted, time.perf_counter() - wall0, time.process_time() - cpu0)
