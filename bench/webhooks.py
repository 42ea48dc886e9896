"""Webhook deliveries per second and commit→delivery latency, on the real stack pieces: events
committed to an outbox, relayed to Kafka, consumed and delivered by the dispatcher process to
a receiver on this machine (uvicorn, uvloop, httptools). The baseline, measured in the same
run, is the receiver's raw capacity: the same requests (same bodies, headers, concurrency)
sent straight at it by the fastest client we have, aiohttp, as the dispatcher uses.

Target: ≥ 1,000 deliveries a second. Sizes: BENCH_WEBHOOK_EVENTS (burst, 20,000),
BENCH_WEBHOOK_RATE (paced events a second for the latency figures, 50). A burst not
delivered within 3 minutes is measured over what arrived (the table says how many)."""

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from sqlalchemy import Engine
from sqlmodel import Session

from bench.broker import running_broker
from bench.timing import table
from deploy.local.postgres import database_url, ensure_databases
from deploy.local.processes import free_port, spawn, stop, wait_until
from gateway.webhooks import service
from gateway.webhooks.app import MIGRATIONS
from gateway.webhooks.models import EndpointCreate
from gateway.webhooks.settings import WebhookSettings
from gateway.webhooks.signing import signed_headers, structured_body
from services.common import outbox
from services.common.contracts import ALL_TOPICS, MemberStatusChanged, PlatformIdentity
from services.common.db import make_engine, migrate
from services.common.kafka import KafkaPublisher, ensure_topics
from services.common.settings import ServiceSettings

TARGET_PER_SECOND = 1000.0
WORKSPACE = "ws_bench"
COMMUNITIES = 200  # ordered endpoint: one in flight per community
# In flight at once, for the dispatcher and the baseline alike. More only adds connection
# overhead against a receiver on the same machine.
CONCURRENCY = 64


def _event(i: int) -> MemberStatusChanged:
    from datetime import UTC, datetime

    return MemberStatusChanged(
        member_id=f"mbr_{i:08d}",
        community_id=f"cmt_{i % COMMUNITIES:04d}",
        from_status="active",
        to_status="muted",
        actor="operator",
        reason="bench",
        until=None,
        identities=[PlatformIdentity(platform="wechat", external_id=f"wx_{i}")],
        changed_at=datetime.now(UTC),
    )


def _serve(
    args: list[str], port: int, log: Path, env: dict[str, str] | None = None
) -> "subprocess.Popen[bytes]":
    process = spawn(args, log_path=log, env=env)

    def ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    wait_until(ready, timeout=90, what=args[2], process=process, log_path=log)
    return process


def _commit_events(engine: Engine, start: int, count: int, batch: int = 500) -> None:
    """Commit `count` events to the producer's outbox, `batch` per transaction."""
    for offset in range(start, start + count, batch):
        with Session(engine) as session:
            for i in range(offset, min(offset + batch, start + count)):
                data = _event(i)
                outbox.emit(
                    session,
                    data,
                    source="/bench",
                    workspace_id=WORKSPACE,
                    community_id=data.community_id,
                )
            session.commit()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _raw_capacity(url: str, requests: int) -> tuple[float, float]:
    """Requests a second the receiver takes from the fastest client we have (aiohttp, one
    pooled session as the dispatcher's) at the dispatcher's concurrency, with the same bodies
    and headers; and the CPU seconds this client spent per request."""
    secret = "whsec_" + "QUJD" * 8
    bodies = []
    for i in range(requests):
        data = _event(i)
        event = data.to_event(
            source="/bench", workspace_id=WORKSPACE, community_id=data.community_id, subject=None
        )
        body = structured_body(event)
        headers = signed_headers(
            msg_id=event.id, body=body, timestamp=int(time.time()), secret=secret, now=event.time
        )
        bodies.append((body, headers))
    connector = aiohttp.TCPConnector(limit=CONCURRENCY, limit_per_host=CONCURRENCY)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as client:
        queue = iter(bodies)

        async def worker() -> None:
            for body, headers in queue:
                for retry in (True, False):
                    # A connection the server closed as we reused it: as the dispatcher would
                    # (there by its retry schedule), send again.
                    try:
                        async with client.post(
                            url, data=body, headers=headers, allow_redirects=False
                        ) as response:
                            await response.read()
                            response.raise_for_status()
                        break
                    except aiohttp.ClientConnectionError:
                        if not retry:
                            raise

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
        return requests / elapsed, (time.process_time() - cpu) / requests


def _stats(receiver: str) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"{receiver}/stats", timeout=30).json()
    return stats


def _wait_delivered(receiver: str, count: int, timeout: float) -> dict[str, Any]:
    """The receiver's figures once `count` distinct deliveries arrived, or at the timeout
    (then the rate is over what did arrive: a loaded machine still gets a figure)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = _stats(receiver)
        if stats["unique"] >= count:
            return stats
        time.sleep(0.5)
    return _stats(receiver)


def _profiled() -> list[str]:
    """BENCH_PROFILE=<file> runs the dispatcher under cProfile, written to <file> at exit."""
    target = os.environ.get("BENCH_PROFILE")
    return ["-m", "cProfile", "-o", target] if target else []


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def benchmark(server_url: str) -> bool:
    burst = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "20000"))
    rate = int(os.environ.get("BENCH_WEBHOOK_RATE", "50"))
    paced_seconds = 10
    names = {k: f"bench_wh_{k}_{uuid.uuid4().hex[:6]}" for k in ("gateway", "producer")}
    ensure_databases(server_url, list(names.values()))
    gateway_url = database_url(server_url, names["gateway"])
    producer_url = database_url(server_url, names["producer"])
    logs = Path(tempfile.mkdtemp(prefix="qunyun-bench-webhooks-"))
    processes: list[subprocess.Popen[bytes]] = []
    with running_broker() as bootstrap:
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        ensure_topics(bootstrap, [prefix + t for t in ALL_TOPICS], partitions=3)
        gateway = make_engine(gateway_url, pool_size=2)
        producer = make_engine(producer_url, pool_size=2)
        stop_relay = threading.Event()
        try:
            migrate(gateway, MIGRATIONS)
            outbox.outbox.create(producer)
            receiver_port, dispatcher_port = free_port(), free_port()
            receiver = f"http://127.0.0.1:{receiver_port}"
            processes.append(
                _serve(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "bench.webhook_receiver:app",
                        "--port",
                        str(receiver_port),
                        "--loop",
                        "uvloop",
                        "--http",
                        "httptools",
                        "--no-access-log",
                        "--log-level",
                        "warning",
                    ],
                    receiver_port,
                    logs / "receiver.log",
                )
            )
            raw_requests = min(burst, 5000)
            receiver_cpu = _cpu_seconds(processes[0].pid)
            capacity, client_cpu = asyncio.run(_raw_capacity(f"{receiver}/raw", raw_requests))
            receiver_cpu = (_cpu_seconds(processes[0].pid) - receiver_cpu) / raw_requests
            httpx.post(f"{receiver}/reset")
            print(f"webhooks: receiver raw capacity {capacity:,.0f}/s", flush=True)

            settings = WebhookSettings(webhook_allowed_networks="127.0.0.0/8")
            with Session(gateway) as session:
                service.create_endpoint(
                    session,
                    workspace_id=WORKSPACE,
                    data=EndpointCreate(url=f"{receiver}/hook"),
                    allowed_networks=settings.allowed_networks,
                )
                session.commit()
            processes.append(
                _serve(
                    [
                        sys.executable,
                        *_profiled(),
                        "-m",
                        "gateway.webhooks",
                        "--port",
                        str(dispatcher_port),
                    ],
                    dispatcher_port,
                    logs / "dispatcher.log",
                    env={
                        "QUNYUN_DATABASE_URL": gateway_url,
                        "QUNYUN_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                        "QUNYUN_KAFKA_TOPIC_PREFIX": prefix,
                        "QUNYUN_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
                        "QUNYUN_WEBHOOK_MAX_IN_FLIGHT": str(CONCURRENCY),
                        "QUNYUN_WEBHOOK_ENDPOINT_MAX_IN_FLIGHT": str(CONCURRENCY),
                        "QUNYUN_LOG_LEVEL": "WARNING",
                    },
                )
            )
            # The producing side, as a service runs it: the outbox relay at its default pace.
            defaults = ServiceSettings()
            relay = outbox.OutboxRelay(
                producer,
                lambda: KafkaPublisher(bootstrap, client_id="bench-relay", topic_prefix=prefix),
                batch_size=defaults.outbox_batch_size,
                poll_seconds=defaults.outbox_poll_seconds,
                retention=timedelta(hours=1),
            )
            threading.Thread(target=relay.run, args=(stop_relay,), daemon=True).start()

            # Warm-up (consumer group joined, connections open), then paced events for latency.
            _commit_events(producer, 0, 200)
            _wait_delivered(receiver, 200, 120)
            httpx.post(f"{receiver}/reset")
            start = 1_000_000
            for second in range(paced_seconds):
                tick = time.monotonic()
                for slot in range(10):  # ten small commits a second, as requests would make
                    _commit_events(producer, start + second * rate + slot * rate // 10, rate // 10)
                    time.sleep(max(0.0, tick + (slot + 1) / 10 - time.monotonic()))
            paced = _wait_delivered(receiver, rate * paced_seconds, 120)
            latencies = sorted(paced["latencies"]) or [float("nan")]
            cuts = statistics.quantiles(latencies, n=100, method="inclusive")

            # Throughput: a burst committed at once, delivered as fast as the dispatcher can.
            httpx.post(f"{receiver}/reset")
            # What the dispatcher burns doing nothing (polling Kafka, its outbox, its gauges):
            # on a loaded machine the burst trickles in for minutes, and that idle cost would
            # be charged to the deliveries.
            idle_seconds = 5.0
            idle_cpu = _cpu_seconds(processes[-1].pid)
            time.sleep(idle_seconds)
            dispatcher_cpu = _cpu_seconds(processes[-1].pid)
            idle_per_second = (dispatcher_cpu - idle_cpu) / idle_seconds
            committed = time.perf_counter()
            _commit_events(producer, 2_000_000, burst)  # as fast as this machine commits
            commit_seconds = time.perf_counter() - committed
            flood = _wait_delivered(receiver, burst, 180)
            burst_seconds = time.perf_counter() - committed
            per_second = flood["unique"] / max(flood["last"] - flood["first"], 1e-9)
            burst_cpu = _cpu_seconds(processes[-1].pid) - dispatcher_cpu
            cpu_per_delivery = burst_cpu / max(flood["unique"], 1)
            net_cpu_per_delivery = max(0.0, burst_cpu - idle_per_second * burst_seconds) / max(
                flood["unique"], 1
            )
            duplicates = flood["received"] - flood["unique"]
        finally:
            stop_relay.set()
            for process in reversed(processes):
                stop(process)
            gateway.dispose()
            producer.dispose()
            import psycopg

            with psycopg.connect(server_url, autocommit=True) as conn:
                for name in names.values():
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    print(
        f"webhooks: {burst:,} events burst, {rate}/s paced for {paced_seconds}s; ordered endpoint "
        f"over {COMMUNITIES} communities, {CONCURRENCY} in flight; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (logs in {logs})"
    )
    print(
        table(
            ["figure", "value", "baseline / target"],
            [
                ["receiver raw capacity (aiohttp → receiver)", f"{capacity:,.0f}/s", "baseline"],
                [
                    "receiver CPU per request (raw)",
                    _ms(receiver_cpu),
                    f"one free core: {1 / max(receiver_cpu, 1e-9):,.0f}/s",
                ],
                [
                    "deliveries per second (Kafka → receiver)",
                    f"{per_second:,.0f}/s",
                    f"≥ {TARGET_PER_SECOND:,.0f}/s",
                ],
                ["share of the receiver's capacity", f"{per_second / capacity:.0%}", ""],
                ["burst committed to the outbox in", f"{commit_seconds:.1f} s", ""],
                ["burst delivered (distinct webhook ids)", f"{flood['unique']:,}", f"{burst:,}"],
                ["duplicate deliveries in the burst", str(duplicates), ""],
                ["aiohttp client CPU per request (raw)", _ms(client_cpu), "baseline"],
                [
                    "dispatcher CPU per delivery (all of it)",
                    _ms(cpu_per_delivery),
                    f"raw client: {_ms(client_cpu)}/request",
                ],
                [
                    "dispatcher CPU per delivery, its idle cost taken out",
                    _ms(net_cpu_per_delivery),
                    f"idle: {idle_per_second * 1000:.0f} ms CPU/s",
                ],
                [
                    "deliveries/s one free core allows",
                    f"{1 / max(cpu_per_delivery, 1e-9):,.0f}/s",
                    f"raw client: {1 / max(client_cpu, 1e-9):,.0f}/s",
                ],
                ["commit → delivery p50 (paced)", _ms(statistics.median(latencies)), ""],
                ["commit → delivery p99 (paced)", _ms(cuts[98]), ""],
            ],
        )
    )
    return per_second >= TARGET_PER_SECOND
