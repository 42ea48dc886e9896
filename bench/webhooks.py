"""Webhook deliveries per second and commit→delivery latency, on the real stack pieces: events
committed to an outbox, relayed to Kafka, consumed and delivered by the dispatcher process to
a receiver on this machine (uvicorn, uvloop, httptools). The baseline, measured in the same
run, is the receiver's raw capacity: the same requests (same bodies, headers, concurrency)
sent straight at it by the fastest client we have, aiohttp, as the dispatcher uses.

Two measurements, apart:
- Throughput: a backlog (BENCH_WEBHOOK_EVENTS, 20,000) committed and relayed to Kafka before
  the dispatcher starts, drained by it; the rate runs from its first delivery to its last,
  with the dispatcher's and Postgres's CPU per delivery over the same window
  (`bench._webhook_drain`). BENCH_WEBHOOK_BASELINE=<git revision> drains the same backlog
  with that revision's (or folder's) dispatcher too, alternately with this tree's (twice
  each), for paired figures in one run.
- Latency: events committed at a steady rate well below capacity (BENCH_WEBHOOK_RATE, 100/s,
  for 10 s, in ten small commits a second as requests would make them) through the relay at
  its default pace; commit (event time) → receipt, p50 and p99.

Target: ≥ 1,000 deliveries a second. BENCH_PYSPY=<py-spy binary> samples this tree's last drain
(GIL-holding stacks only, which is CPU spent in Python) into `<log>.spy.txt` next to the logs."""

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

import aiohttp
import httpx
import psycopg

from bench._process_cpu import cpu_seconds
from bench._webhook_drain import (
    COMMUNITIES,
    CONCURRENCY,
    WORKSPACE,
    Drain,
    commit_events,
    drain,
    event,
    prepare,
    serve,
    start_dispatcher,
    wait_delivered,
)
from bench.broker import running_broker
from bench.timing import table
from deploy.local.postgres import database_url, ensure_databases
from deploy.local.processes import free_port, stop
from gateway.webhooks.signing import signed_headers, structured_body
from services.common import outbox
from services.common.contracts import ALL_TOPICS
from services.common.db import make_engine
from services.common.kafka import KafkaPublisher, ensure_topics
from services.common.settings import ServiceSettings

TARGET_PER_SECOND = 1000.0
TREE = Path(__file__).resolve().parents[1]


async def _raw_capacity(url: str, requests: int) -> tuple[float, float]:
    """Requests a second the receiver takes from the fastest client we have (aiohttp, one
    pooled session as the dispatcher's) at the dispatcher's concurrency, with the same bodies
    and headers; and the CPU seconds this client spent per request."""
    secret = "whsec_" + "QUJD" * 8
    bodies = []
    for i in range(requests):
        data = event(i)
        built = data.to_event(
            source="/bench", workspace_id=WORKSPACE, community_id=data.community_id, subject=None
        )
        body = structured_body(built)
        headers = signed_headers(
            msg_id=built.id, body=body, timestamp=int(time.time()), secret=secret, now=built.time
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


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def _baseline_tree(revision: str, into: Path) -> Path:
    """`revision`'s files (committed, nothing else) in a folder of their own; a folder
    is taken as it is."""
    if Path(revision).is_dir():
        return Path(revision)
    tree = into / "baseline"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(TREE), "archive", revision], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def benchmark(server_url: str) -> bool:
    backlog = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "20000"))
    rate = int(os.environ.get("BENCH_WEBHOOK_RATE", "100"))
    revision = os.environ.get("BENCH_WEBHOOK_BASELINE")
    paced_seconds = 10
    producer_name = f"bench_wh_producer_{uuid.uuid4().hex[:6]}"
    ensure_databases(server_url, [producer_name])
    logs = Path(tempfile.mkdtemp(prefix="qunyun-bench-webhooks-"))
    processes: list[subprocess.Popen[bytes]] = []
    databases = [producer_name]
    drains: dict[str, list[Drain]] = {}
    with running_broker() as bootstrap:
        producer = make_engine(database_url(server_url, producer_name), pool_size=2)
        stop_relay = threading.Event()
        try:
            outbox.outbox.create(producer)
            receiver_port = free_port()
            receiver = f"http://127.0.0.1:{receiver_port}"
            processes.append(_receiver(receiver_port, logs / "receiver.log"))
            raw_requests = min(backlog, 5000)
            receiver_cpu = cpu_seconds(processes[0].pid)
            capacity, client_cpu = asyncio.run(_raw_capacity(f"{receiver}/raw", raw_requests))
            receiver_cpu = (cpu_seconds(processes[0].pid) - receiver_cpu) / raw_requests
            print(f"webhooks: receiver raw capacity {capacity:,.0f}/s", flush=True)

            trees = [("this tree", TREE)]
            if revision:
                trees = [(revision, _baseline_tree(revision, logs)), ("this tree", TREE)] * 2
            for n, (label, tree) in enumerate(trees):
                found = drain(
                    server_url=server_url,
                    producer=producer,
                    bootstrap=bootstrap,
                    receiver=receiver,
                    tree=tree,
                    backlog=backlog,
                    logs=logs / f"dispatcher-drain-{n}.log",
                    spy=os.environ.get("BENCH_PYSPY") if n == len(trees) - 1 else None,
                )
                drains.setdefault(label, []).append(found)
                print(
                    f"webhooks: drain {n} ({label}): {found.per_second:,.0f}/s, dispatcher "
                    f"{_ms(found.dispatcher_cpu)} CPU/delivery, Postgres "
                    f"{_ms(found.postgres_cpu)}, load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )

            # Latency at a steady rate, through the relay at a service's default pace.
            name, url = prepare(server_url, TREE, receiver)
            databases.append(name)
            prefix = f"bench{uuid.uuid4().hex[:6]}."
            ensure_topics(bootstrap, [prefix + t for t in ALL_TOPICS], partitions=3)
            dispatcher, _ = start_dispatcher(
                tree=TREE,
                database=url,
                bootstrap=bootstrap,
                prefix=prefix,
                log=logs / "dispatcher-paced.log",
                profile=[],
            )
            processes.append(dispatcher)
            defaults = ServiceSettings()
            relay = outbox.OutboxRelay(
                producer,
                lambda: KafkaPublisher(bootstrap, client_id="bench-relay", topic_prefix=prefix),
                batch_size=defaults.outbox_batch_size,
                poll_seconds=defaults.outbox_poll_seconds,
                retention=timedelta(hours=1),
            )
            threading.Thread(target=relay.run, args=(stop_relay,), daemon=True).start()
            httpx.post(f"{receiver}/reset")
            # Warm-up (consumer group joined, connections open).
            commit_events(producer, 0, 200)
            wait_delivered(receiver, 200, 120)
            # What the dispatcher burns doing nothing (polling Kafka, its outbox, its gauges).
            idle_seconds = 5.0
            idle_cpu = cpu_seconds(dispatcher.pid)
            time.sleep(idle_seconds)
            idle_per_second = (cpu_seconds(dispatcher.pid) - idle_cpu) / idle_seconds
            httpx.post(f"{receiver}/reset")
            start = 1_000_000
            for second in range(paced_seconds):
                tick = time.monotonic()
                for slot in range(10):  # ten small commits a second, as requests would make
                    commit_events(producer, start + second * rate + slot * rate // 10, rate // 10)
                    time.sleep(max(0.0, tick + (slot + 1) / 10 - time.monotonic()))
            paced = wait_delivered(receiver, rate * paced_seconds, 120)
            latencies = sorted(paced["latencies"]) or [float("nan")]
            cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        finally:
            stop_relay.set()
            for process in reversed(processes):
                stop(process)
            producer.dispose()
            with psycopg.connect(server_url, autocommit=True) as conn:
                for name in databases:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    ours = drains["this tree"]
    print(
        f"webhooks: backlog of {backlog:,} events drained {len(ours)}x; {rate}/s paced for "
        f"{paced_seconds}s; ordered endpoint over {COMMUNITIES} communities, {CONCURRENCY} in "
        f"flight; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        f"(logs in {logs})"
    )
    rows = [
        ["receiver raw capacity (aiohttp → receiver)", f"{capacity:,.0f}/s", "baseline"],
        [
            "receiver CPU per request (raw)",
            _ms(receiver_cpu),
            f"one free core: {1 / max(receiver_cpu, 1e-9):,.0f}/s",
        ],
        ["aiohttp client CPU per request (raw)", _ms(client_cpu), "baseline"],
    ]
    for label, runs in drains.items():
        best = max(runs, key=lambda d: d.per_second)
        rows += [
            [
                f"deliveries per second, backlog drain ({label})",
                " / ".join(f"{d.per_second:,.0f}/s" for d in runs),
                f"≥ {TARGET_PER_SECOND:,.0f}/s",
            ],
            [
                f"share of the receiver's capacity ({label})",
                f"{best.per_second / capacity:.0%}",
                "",
            ],
            [
                f"dispatcher CPU per delivery ({label})",
                " / ".join(_ms(d.dispatcher_cpu) for d in runs),
                f"raw client: {_ms(client_cpu)}",
            ],
            [
                f"Postgres CPU per delivery ({label})",
                " / ".join(_ms(d.postgres_cpu) for d in runs),
                "",
            ],
            [
                f"gateway DB transactions per delivery ({label})",
                " / ".join(f"{d.transactions:.3f}" for d in runs),
                "",
            ],
            [
                f"delivered (distinct ids) / duplicates ({label})",
                " / ".join(f"{d.delivered:,} / {d.duplicates}" for d in runs),
                f"{backlog:,} / 0",
            ],
        ]
    rows += [
        ["dispatcher idle CPU", f"{idle_per_second * 1000:.0f} ms/s", ""],
        [f"commit → delivery p50 (paced, {rate}/s)", _ms(statistics.median(latencies)), ""],
        [f"commit → delivery p99 (paced, {rate}/s)", _ms(cuts[98]), ""],
    ]
    print(table(["figure", "value", "baseline / target"], rows))
    return max(d.per_second for d in ours) >= TARGET_PER_SECOND


def _receiver(port: int, log: Path) -> "subprocess.Popen[bytes]":
    return serve(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.webhook_receiver:app",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        port,
        log,
    )
