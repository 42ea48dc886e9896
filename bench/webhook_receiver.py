"""The benchmark's webhook receiver: a bare ASGI app (no framework) that answers 204 to every
POST and keeps, per delivery, its webhook id and how long after the event's time it arrived.
`GET /stats` reports them; `POST /reset` forgets them. Run by `bench.webhooks` under uvicorn."""

import time
from datetime import datetime
from typing import Any

import orjson

_ids: set[str] = set()
_latencies: list[float] = []
_received = 0
_first = _last = 0.0


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _received, _first, _last
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    path, method = scope["path"], scope["method"]
    answer = b""
    if method == "POST" and path == "/reset":
        _ids.clear()
        _latencies.clear()
        _received, _first, _last = 0, 0.0, 0.0
    elif method == "GET" and path == "/stats":
        answer = orjson.dumps(
            {
                "received": _received,
                "unique": len(_ids),
                "first": _first,
                "last": _last,
                "latencies": _latencies,
            }
        )
    elif method == "POST":
        now = time.time()
        _received += 1
        _first = _first or now
        _last = now
        headers = dict(scope["headers"])
        webhook_id = headers.get(b"webhook-id")
        if webhook_id is not None and body:
            # Deliveries carry a CloudEvent; raw-capacity probes carry an empty body.
            _ids.add(webhook_id.decode())
            event_time = datetime.fromisoformat(orjson.loads(body)["time"]).timestamp()
            _latencies.append(now - event_time)
    status = 200 if answer else 204
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(answer)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": answer})
