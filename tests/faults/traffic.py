"""A steady stream through the gateway, sent the way well-behaved clients send it: bots push
signed chat messages, an operator's console adds members; each item is retried with the same
`webhook-id` / `Idempotency-Key` until the platform accepts it. And a sampler that watches how
much of it the consumers have recorded, to measure pauses."""

import contextlib
import itertools
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import orjson

from gateway.signatures import sign

# Between two attempts at one item: short, so an outage is probed densely.
RETRY_SECONDS = 0.25


@dataclass
class Answer:
    at: float  # monotonic
    status: int | None  # None: no answer at all (connection refused, timeout)
    stream: str


@dataclass
class Stream:
    name: str
    sent: int = 0
    accepted: int = 0
    duplicate_answers: int = 0  # a retry whose first attempt had in fact gone through
    pending: deque[dict] = field(default_factory=deque)  # type: ignore[type-arg]


class Traffic:
    def __init__(
        self,
        *,
        gateway: str,
        api_key: str,
        integration: dict,  # type: ignore[type-arg]
        chat_groups: list[str],
        joins_community: str,
        messages_per_second: float = 8,
        joins_per_second: float = 4,
    ):
        self._gateway, self._key, self._integration = gateway, api_key, integration
        self._groups, self._joins_community = chat_groups, joins_community
        self.messages = Stream("messages")
        self.joins = Stream("joins")
        self.answers: list[Answer] = []
        # Answers a client must not get even during a fault (a 500, a 4xx for a valid item).
        self.unexpected: list[Answer] = []
        self._sending = threading.Event()
        self._done = threading.Event()
        self._threads = [
            threading.Thread(
                target=self._run, args=(self.messages, messages_per_second, self._push), daemon=True
            ),
            threading.Thread(
                target=self._run, args=(self.joins, joins_per_second, self._join), daemon=True
            ),
        ]

    def start(self) -> None:
        self._sending.set()
        for thread in self._threads:
            thread.start()

    def stop_sending(self) -> None:
        self._sending.clear()

    def finish(self, timeout: float) -> None:
        """Stop sending new items and wait until every sent one is accepted (or the timeout)."""
        self.stop_sending()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (self.messages.pending or self.joins.pending):
            time.sleep(0.2)
        self._done.set()
        for thread in self._threads:
            thread.join(15)

    def answers_between(self, start: float, end: float) -> list[Answer]:
        return [a for a in self.answers if start <= a.at <= end]

    def _run(
        self,
        stream: Stream,
        rate: float,
        attempt: Callable[[httpx.Client, dict], int | None],  # type: ignore[type-arg]
    ) -> None:
        next_new = time.monotonic()
        with httpx.Client(timeout=10) as client:
            while not self._done.is_set():
                now = time.monotonic()
                if self._sending.is_set() and now >= next_new:
                    stream.pending.append({"id": uuid.uuid4().hex})
                    stream.sent += 1
                    next_new += 1 / rate
                if not stream.pending:
                    time.sleep(max(0.0, min(next_new - time.monotonic(), 0.2)))
                    continue
                item = stream.pending[0]
                status = attempt(client, item)
                self.answers.append(Answer(time.monotonic(), status, stream.name))
                if status is not None and 200 <= status < 300:
                    stream.pending.popleft()
                    stream.accepted += 1
                else:
                    if status is not None and status not in (429, 503, 504):
                        self.unexpected.append(Answer(time.monotonic(), status, stream.name))
                    time.sleep(RETRY_SECONDS)

    def _push(self, client: httpx.Client, item: dict) -> int | None:  # type: ignore[type-arg]
        n = int(item["id"], 16)
        event = {
            "type": "message_posted",
            "data": {
                "platform": "wechat",
                "group_external_id": self._groups[n % len(self._groups)],
                "sender_external_id": f"wx_sender_{n % 12}",
                "sender_display_name": "群友",
                "message_external_id": item["id"],
                "text": "今天的分享很有收获",
                # Set once: a retry carries the same body (another body under a used
                # webhook-id is a 422 `webhook-id-reused`, as a gateway killed after its commit
                # and before its answer showed).
                "occurred_at": item.setdefault("occurred_at", datetime.now(UTC).isoformat()),
            },
        }
        body = orjson.dumps(event)
        ts = int(time.time())
        headers = {
            "webhook-id": item["id"],
            "webhook-timestamp": str(ts),
            "content-type": "application/json",
            "webhook-signature": sign(
                self._integration["secret"], msg_id=item["id"], timestamp=ts, body=body
            ),
        }
        try:
            answer = client.post(
                self._gateway + self._integration["inbound_path"], content=body, headers=headers
            )
        except httpx.TransportError:
            return None
        if answer.status_code == 202 and answer.json().get("duplicate"):
            self.messages.duplicate_answers += 1
        return answer.status_code

    def _join(self, client: httpx.Client, item: dict) -> int | None:  # type: ignore[type-arg]
        try:
            answer = client.post(
                f"{self._gateway}/v1/communities/{self._joins_community}/members",
                headers={"Authorization": f"Bearer {self._key}", "Idempotency-Key": item["id"]},
                json={
                    "display_name": "新朋友",
                    "identities": [{"platform": "wechat", "external_id": f"wx_{item['id']}"}],
                },
            )
        except httpx.TransportError:
            return None
        if answer.headers.get("idempotent-replayed") == "true":
            self.joins.duplicate_answers += 1
        return answer.status_code


class Sampler:
    """Samples a count (what a consumer has recorded) every quarter second."""

    def __init__(self, count: Callable[[], int]):
        self._count = count
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            # The database itself may be the fault: no sample then.
            with contextlib.suppress(Exception):
                self.samples.append((time.monotonic(), self._count()))
            self._stop.wait(0.25)

    def longest_pause(self, start: float, end: float) -> float:
        """The longest time in [start, end] during which the count did not grow."""
        growth = [start]
        previous = None
        for at, value in self.samples:
            if previous is not None and value > previous and start <= at <= end:
                growth.append(at)
            previous = value
        growth.append(end)
        return max(b - a for a, b in itertools.pairwise(growth))

    def first_growth_after(self, moment: float) -> float | None:
        before = [v for at, v in self.samples if at <= moment]
        base = before[-1] if before else 0
        return next((at for at, v in self.samples if at > moment and v > base), None)
