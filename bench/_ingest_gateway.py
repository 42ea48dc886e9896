"""One gateway's run in the ingest benchmark: a real uvicorn process on its own database,
warmed up, then every batch posted from 4 connections, with the CPU each process of the
machine spent meanwhile (the gateway by thread kind, the bench's client, Postgres, the broker)."""

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
import orjson

from bench._process_cpu import (
    cpu_seconds,
    listening_pid,
    threads_cpu_seconds,
    tree_cpu_seconds,
)
from deploy.local.postgres import database_url, ensure_databases
from deploy.local.processes import free_port, spawn, stop, wait_until

CONCURRENCY = 4
WORKSPACE = "ws_bench"


@dataclass
class Run:
    """One gateway's run over every batch: wall time, answers, and the CPU each process
    spent meanwhile (seconds; None where the process could not be seen)."""

    seconds: float
    accepted: int
    other: int
    unavailable: int
    gateway_cpu: float
    client_cpu: float
    postgres_cpu: float | None
    broker_cpu: float | None
    # the gateway's CPU by thread kind (its first process only when it runs workers)
    gateway_threads: dict[str, float]

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds

    def per_message(self, cpu: float | None) -> str:
        return "?" if cpu is None else f"{cpu / max(self.accepted, 1) * 1e6:.1f} µs"


async def _post_all(url: str, key: str, bodies: list[bytes]) -> tuple[float, int, int, int]:
    """Seconds to have every batch answered, the messages accepted and not, and the 503s
    (each retried after its Retry-After, as a bot would). aiohttp, not httpx: httpx spent
    ~4 ms of CPU a request here, a third of the gateway's own, on the same two cores."""
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    accepted = other = unavailable = 0
    queue = iter(bodies)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        async def worker() -> None:
            nonlocal accepted, other, unavailable
            for body in queue:
                while True:
                    async with client.post(url, data=body, headers=headers) as response:
                        content = await response.read()
                        if response.status != 503:
                            response.raise_for_status()
                            break
                        unavailable += 1
                        retry_after = float(response.headers.get("retry-after", "1"))
                    await asyncio.sleep(retry_after)
                answer = orjson.loads(content)
                accepted += answer["accepted"]
                other += answer["duplicates"] + answer["rejected"]

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.perf_counter() - started, accepted, other, unavailable


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1].split("/", 1)[0])


def gateway_run(
    *,
    server_url: str,
    bootstrap: str,
    prefix: str,
    bodies: list[bytes],
    warm: list[bytes],
    code: Path | None,
    logs: Path,
) -> Run:
    """Start a gateway (from `code`, a checkout, when given: the same run's baseline) on its
    own database, warm it up, post every batch, stop it."""
    name = f"bench_ingest_{uuid.uuid4().hex[:6]}"
    ensure_databases(server_url, [name])
    key = "qy_" + secrets.token_urlsafe(24)
    port = free_port()
    workers = os.environ.get("BENCH_INGEST_WORKERS", "")
    log_path = logs / f"gateway-{name}.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        process = spawn(
            [
                sys.executable,
                *_profiled(),
                "-m",
                "uvicorn",
                "gateway.app:create_app",
                "--factory",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
                *(["--workers", workers] if workers else []),
            ],
            log_path=log_path,
            cwd=code,
            env={
                "QUNYUN_DATABASE_URL": database_url(server_url, name),
                "QUNYUN_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "QUNYUN_KAFKA_TOPIC_PREFIX": prefix,
                "QUNYUN_BOOTSTRAP_WORKSPACE_ID": WORKSPACE,
                "QUNYUN_BOOTSTRAP_API_KEY": key,
                "QUNYUN_RATE_LIMIT_PER_SECOND": "10000",
                "QUNYUN_RATE_LIMIT_BURST": "10000",
                "QUNYUN_LOG_LEVEL": "WARNING",
            },
        )

        def ready() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout=90, what="gateway", process=process, log_path=log_path)
        url = f"http://127.0.0.1:{port}/v1/ingest/messages"
        asyncio.run(_post_all(url, key, warm))
        postgres = listening_pid(_port(server_url))
        broker = listening_pid(_port(bootstrap.split(",")[0]))
        before = (
            tree_cpu_seconds(process.pid),
            time.process_time(),
            tree_cpu_seconds(postgres) if postgres else None,
            cpu_seconds(broker) if broker else None,
        )
        threads = threads_cpu_seconds(process.pid)
        sampler = _sampling(process.pid)
        seconds, accepted, other, unavailable = asyncio.run(_post_all(url, key, bodies))
        if sampler is not None:
            sampler.send_signal(signal.SIGINT)  # py-spy writes what it sampled and exits
            sampler.wait(60)
        return Run(
            seconds,
            accepted,
            other,
            unavailable,
            gateway_cpu=tree_cpu_seconds(process.pid) - before[0],
            client_cpu=time.process_time() - before[1],
            postgres_cpu=tree_cpu_seconds(postgres) - before[2] if postgres and before[2] else None,
            broker_cpu=cpu_seconds(broker) - before[3] if broker and before[3] else None,
            gateway_threads={
                kind: cpu - threads[kind] for kind, cpu in threads_cpu_seconds(process.pid).items()
            },
        )
    finally:
        stop(process)


def _sampling(pid: int) -> subprocess.Popen[bytes] | None:
    """py-spy sampling every thread of the gateway into BENCH_PYSPY, if set."""
    target = os.environ.get("BENCH_PYSPY")
    if not target:
        return None
    command = ["py-spy", "record", "--pid", str(pid), "--threads", "--nonblocking"]
    sampler = subprocess.Popen([*command, "--format", "raw", "--rate", "200", "--output", target])
    time.sleep(1)  # attached before the first batch
    return sampler


def _profiled() -> list[str]:
    target = os.environ.get("BENCH_PROFILE")
    return ["-m", "cProfile", "-o", target] if target else []
