"""The delivery loop: claim what is due, send it with bounded concurrency, write results back.

It runs on one asyncio loop. Database work (claims, result batches) goes to threads so a slow
query never stalls sending; a slow receiver holds only its own slots (per-endpoint limit,
per-attempt deadline), never the others'.
"""

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import sqlalchemy as sa
from sqlalchemy import Engine

from gateway.webhooks import outcomes, queue
from gateway.webhooks.delivery import Job, Result, attempt
from gateway.webhooks.metrics import QUEUE_DEPTH, QUEUE_OLDEST_AGE
from gateway.webhooks.settings import WebhookSettings

log = logging.getLogger(__name__)

ENDPOINT_STATES = ("healthy", "failing")


class EndpointRateLimits:
    """A token bucket per rate-limited endpoint, in this replica's memory."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}

    def delay(self, endpoint_id: str, per_second: float) -> float:
        """Seconds to wait before sending; takes the token."""
        now = time.monotonic()
        tokens, updated = self._buckets.get(endpoint_id, (per_second, now))
        tokens = min(max(per_second, 1.0), tokens + (now - updated) * per_second) - 1
        self._buckets[endpoint_id] = (tokens, now)
        return 0.0 if tokens >= 0 else -tokens / per_second


class Dispatcher:
    def __init__(self, engine: Engine, settings: WebhookSettings, client: aiohttp.ClientSession):
        self._engine = engine
        self._settings = settings
        self._client = client
        self._limits = EndpointRateLimits()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._results: list[Result] = []
        # Claimed messages a chain did not send, to be given back in the next write.
        self._released: list[str] = []
        self._closing_soon = False
        self._results_ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """New messages were queued (called from the ingest thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        writer = asyncio.create_task(self._write_results())
        gauges = asyncio.create_task(self._measure(stop))
        try:
            await self._claim_and_send(stop)
        finally:
            self._closing_soon = True  # chains stop after their current send
            # In-flight attempts finish (bounded by the attempt timeout) and are recorded;
            # anything cut short is re-sent by whichever replica claims it after the lease.
            if self._in_flight:
                await asyncio.wait(
                    self._in_flight, timeout=self._settings.webhook_attempt_timeout_seconds
                )
            leftovers = list(self._in_flight)
            for task in leftovers:
                task.cancel()
            await asyncio.gather(*leftovers, return_exceptions=True)
            self._closing = True
            self._results_ready.set()
            await writer
            gauges.cancel()

    async def _claim_and_send(self, stop: asyncio.Event) -> None:
        s = self._settings
        backoff = 0.5
        while not stop.is_set():
            free = s.webhook_max_in_flight - len(self._in_flight)
            chains: list[list[Job]] = []
            if free > 0:
                try:
                    chains = await asyncio.to_thread(self._claim, free)
                    backoff = 0.5
                except sa.exc.SQLAlchemyError:
                    log.exception("claiming deliveries failed; retrying")
                    await _wait(stop, backoff)
                    backoff = min(backoff * 2, 10)
                    continue
            for chain in chains:
                task = asyncio.create_task(self._send_chain(chain, time.monotonic()))
                self._in_flight.add(task)
                task.add_done_callback(self._done)
            if chains and len(chains) == free:
                # Claim again once a quarter of the slots is free, not at every free slot:
                # each claim scans the queue, so many small ones cost the database dearly.
                await self._slots_free(stop, max(1, s.webhook_max_in_flight // 4))
                continue
            # Nothing (more) due: sleep until new messages, a free slot, or the next retry.
            self._wake.clear()
            await _wait(self._wake, 0.25 if chains or not self._in_flight else 0.1, stop)

    async def _slots_free(self, stop: asyncio.Event, wanted: int) -> None:
        limit = self._settings.webhook_max_in_flight
        while not stop.is_set() and limit - len(self._in_flight) < wanted:
            self._wake.clear()
            await _wait(self._wake, 0.05, stop)

    def _claim(self, chains: int) -> list[list[Job]]:
        with self._engine.begin() as conn:
            return queue.claim(
                conn,
                chains=chains,
                per_endpoint=self._settings.webhook_endpoint_max_in_flight,
                depth=self._settings.webhook_claim_depth,
                lease_seconds=self._settings.lease_seconds,
            )

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed", exc_info=task.exception())

    async def _send_chain(self, chain: list[Job], claimed_at: float) -> None:
        """Send one queue's claimed messages in order, one at a time; stop at the first that
        is not delivered (it holds back the rest of its queue), when the lease could run out
        before the next answer, or at shutdown. What was not sent is given back."""
        s = self._settings
        # The last send must end before another replica may take the lease over.
        send_until = claimed_at + s.lease_seconds - s.webhook_attempt_timeout_seconds - 1
        for n, job in enumerate(chain):
            if n and (self._closing_soon or time.monotonic() > send_until):
                self._release(chain[n:])
                return
            try:
                result = await self._send(job)
            except BaseException:
                self._release(chain[n + 1 :])
                raise
            self._results.append(result)
            self._results_ready.set()
            if not result.delivered:
                self._release(chain[n + 1 :])
                return

    def _release(self, jobs: list[Job]) -> None:
        if jobs:
            self._released.extend(job.message_id for job in jobs)
            self._results_ready.set()

    async def _send(self, job: Job) -> Result:
        if job.rate_limit_per_second:
            wait = self._limits.delay(job.endpoint_id, job.rate_limit_per_second)
            if wait:
                await asyncio.sleep(wait)
        return await attempt(
            self._client,
            self._settings.allowed_networks,
            job,
            timeout_seconds=self._settings.webhook_attempt_timeout_seconds,
            excerpt_bytes=self._settings.webhook_response_excerpt_bytes,
        )

    async def _write_results(self) -> None:
        """Write results in batches: whatever finished while the last batch was written."""
        while True:
            await self._results_ready.wait()
            if not self._closing and len(self._results) < self._settings.webhook_max_in_flight:
                # A moment for more answers to join the batch: its statements are shared by
                # every result in it. Only the next claim of these queues waits for it.
                await asyncio.sleep(0.02)
            self._results_ready.clear()
            batch, self._results = self._results, []
            released, self._released = self._released, []
            while batch or released:
                try:
                    await asyncio.to_thread(self._record, batch, released)
                    break
                except sa.exc.SQLAlchemyError:
                    # Unrecorded deliveries are sent again once their leases run out: at least
                    # once. Keep trying until shutdown.
                    log.exception("recording attempts failed; retrying")
                    if self._closing:
                        return
                    await asyncio.sleep(1)
            self._wake.set()  # ordered queues may have a next message now
            if self._closing and not self._results and not self._released:
                return

    def _record(self, batch: list[Result], released: list[str]) -> None:
        with self._engine.begin() as conn:
            if batch:
                outcomes.record(conn, batch, self._settings)
            if released:
                queue.release(conn, released)

    async def _measure(self, stop: asyncio.Event) -> None:
        last_prune = 0.0
        while not stop.is_set():
            try:
                found = await asyncio.to_thread(self._depth)
                for state in ENDPOINT_STATES:
                    depth, age = found.get(state, (0, 0.0))
                    QUEUE_DEPTH.labels(state).set(depth)
                    QUEUE_OLDEST_AGE.labels(state).set(age)
                if time.monotonic() - last_prune > 3600:
                    last_prune = time.monotonic()
                    await asyncio.to_thread(self._prune)
            except sa.exc.SQLAlchemyError:
                log.warning("measuring the webhook queue failed", exc_info=True)
            await _wait(stop, 5)

    def _depth(self) -> dict[str, tuple[int, float]]:
        with self._engine.connect() as conn:
            return queue.depth(conn)

    def _prune(self) -> None:
        before = datetime.now(UTC) - timedelta(days=self._settings.webhook_retention_days)
        with self._engine.begin() as conn:
            queue.prune(conn, before=before)


async def _wait(event: asyncio.Event, seconds: float, stop: asyncio.Event | None = None) -> None:
    waiters = [asyncio.ensure_future(event.wait())]
    if stop is not None:
        waiters.append(asyncio.ensure_future(stop.wait()))
    await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
