"""The latency the gateway adds: `GET /v1/communities/{id}` through the gateway against the
same call straight to the members service, both measured in this run on the stack as `make
run` starts it (members and the gateway as their own uvicorn processes, real Postgres and
Kafka). Calls are sequential on one keep-alive connection each, in alternating blocks, so a
burst of load from another process on this shared machine falls on both sides alike.

Then bots' signed single-event pushes (`POST /v1/inbound/{id}`, one message each) from
SENDERS concurrent keep-alive senders (aiohttp on one loop: `bench/_signed_pushes.py`):
accepted a second, the gateway's CPU per push and what sending cost this process.

Targets (issue 15): added p50 ≤ 1.5 ms and p99 ≤ 5 ms; ≥ 1,000 pushes a second (about
0.8 ms of gateway CPU per push on this 2-core machine, the rest left to Postgres).
Wall-clock figures on a shared machine move with its load, so the tables also give the CPU
each process spent per call (from /proc), which load changes far less. Sizes:
BENCH_GATEWAY_CALLS (2,000 each side), BENCH_GATEWAY_PUSHES (2,000).
Figures from a profiler: `py-spy record --pid <gateway>` while this runs."""

import os
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench._process_cpu import cpu_seconds
from bench._signed_pushes import SENDERS, push
from bench.broker import running_broker
from bench.timing import table
from deploy.local.processes import free_port
from deploy.local.stack import SERVICES, Stack
from services.common.http.identity import ACTOR_HEADER, INTERNAL_TOKEN_HEADER, WORKSPACE_HEADER

TARGET_ADDED_P50_MS = 1.5
TARGET_ADDED_P99_MS = 5.0
TARGET_PUSHES_PER_SECOND = 1000
TARGET_PUSH_CPU_MS = 0.8
BLOCKS = 8  # alternating blocks per side
IDLE_SECONDS = 5


def _timed(client: httpx.Client, path: str, calls: int, samples: list[float]) -> None:
    for _ in range(calls):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")


def _cuts(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples), cuts[98]


def benchmark(server_url: str) -> bool:
    calls = int(os.environ.get("BENCH_GATEWAY_CALLS", "2000"))
    run_dir = Path(tempfile.mkdtemp(prefix="qunyun-bench-gateway-"))
    with running_broker() as bootstrap:
        stack = Stack(
            run_dir=run_dir,
            database_server_url=server_url,
            kafka_bootstrap_servers=bootstrap,
            admin_api_key="qy_" + secrets.token_urlsafe(24),
            ports={name: free_port() for name in SERVICES},
            database_prefix=f"bench_gw_{uuid.uuid4().hex[:6]}_",
            # A benchmark measures the door, not the limit: one key makes every call.
            extra_env={"gateway": {"QUNYUN_RATE_LIMIT_PER_SECOND": "1000000"}},
        )
        try:
            stack.create_databases()
            stack.start("members")
            stack.start("gateway")
            through = httpx.Client(
                base_url=stack.url("gateway"),
                headers={"Authorization": f"Bearer {stack.admin_api_key}"},
                timeout=30,
                trust_env=False,
            )
            direct = httpx.Client(
                base_url=stack.url("members"),
                headers={
                    INTERNAL_TOKEN_HEADER: stack.internal_token,
                    WORKSPACE_HEADER: stack.workspace_id,
                    ACTOR_HEADER: "api_key:bench",
                },
                timeout=30,
                trust_env=False,
            )
            created = through.post(
                "/v1/communities",
                json={"name": "读书会", "purpose": "interest", "timezone": "Asia/Shanghai"},
            )
            created.raise_for_status()
            path = f"/v1/communities/{created.json()['id']}"
            warm: list[float] = []
            _timed(direct, path, 200, warm)
            _timed(through, path, 200, warm)

            gateway_pid, members_pid = (
                stack.processes["gateway"].pid,
                stack.processes["members"].pid,
            )
            # What each process spends doing nothing (outbox relay polls, readiness probes),
            # a second: on a loaded machine a call takes long, and that share of it is not
            # the call's. Subtracted for the "less idle" figures.
            g0, m0 = cpu_seconds(gateway_pid), cpu_seconds(members_pid)
            idle_started = time.perf_counter()
            time.sleep(IDLE_SECONDS)
            idle_wall = time.perf_counter() - idle_started
            gateway_idle = (cpu_seconds(gateway_pid) - g0) / idle_wall
            members_idle = (cpu_seconds(members_pid) - m0) / idle_wall
            load_before = os.getloadavg()[0]
            gateway_cpu = members_cpu_through = members_cpu_direct = 0.0
            direct_wall = through_wall = 0.0
            via_gateway: list[float] = []
            straight: list[float] = []
            block = max(1, calls // BLOCKS)
            for _ in range(BLOCKS):
                m0, t0 = cpu_seconds(members_pid), time.perf_counter()
                _timed(direct, path, block, straight)
                m1, g1 = cpu_seconds(members_pid), cpu_seconds(gateway_pid)
                t1 = time.perf_counter()
                _timed(through, path, block, via_gateway)
                members_cpu_direct += m1 - m0
                members_cpu_through += cpu_seconds(members_pid) - m1
                gateway_cpu += cpu_seconds(gateway_pid) - g1
                direct_wall += t1 - t0
                through_wall += time.perf_counter() - t1
            load_after = os.getloadavg()[0]

            pushes = int(os.environ.get("BENCH_GATEWAY_PUSHES", "2000")) // SENDERS * SENDERS
            created = through.post("/v1/integrations", json={"name": "bench bot"})
            created.raise_for_status()
            integration = created.json()
            push(stack.url("gateway"), integration, SENDERS * 20)  # warm
            push_load_before = os.getloadavg()[0]
            g0 = cpu_seconds(gateway_pid)
            sent = push(stack.url("gateway"), integration, pushes)
            push_cpu = cpu_seconds(gateway_pid) - g0
            push_load_after = os.getloadavg()[0]
            through.close()
            direct.close()
        finally:
            stack.stop_all()
            import psycopg

            with psycopg.connect(server_url, autocommit=True) as conn:
                for name in SERVICES:
                    conn.execute(f'DROP DATABASE IF EXISTS "{stack.database_prefix}{name}"')

    direct_p50, direct_p99 = _cuts(straight)
    via_p50, via_p99 = _cuts(via_gateway)
    added_p50, added_p99 = via_p50 - direct_p50, via_p99 - direct_p99
    measured = len(via_gateway)
    print(
        f"gateway: {measured:,} sequential keep-alive GETs each side in {BLOCKS} alternating "
        f"blocks; load average {load_before:.1f} → {load_after:.1f} on {os.cpu_count()} cores "
        f"(logs in {run_dir})"
    )
    print(
        table(
            ["figure", "p50", "p99", "baseline / target"],
            [
                ["straight to members", f"{direct_p50:.2f} ms", f"{direct_p99:.2f} ms", "baseline"],
                ["through the gateway", f"{via_p50:.2f} ms", f"{via_p99:.2f} ms", ""],
                [
                    "added by the gateway",
                    f"{added_p50:.2f} ms",
                    f"{added_p99:.2f} ms",
                    f"≤ {TARGET_ADDED_P50_MS} ms / ≤ {TARGET_ADDED_P99_MS} ms",
                ],
            ],
        )
    )

    def per_call(cpu: float, idle_rate: float, wall: float) -> list[str]:
        net = max(0.0, cpu - idle_rate * wall)
        return [f"{cpu / measured * 1000:.2f} ms", f"{net / measured * 1000:.2f} ms"]

    print(
        table(
            ["CPU per call", "all of it", "less idle", "baseline"],
            [
                [
                    "members, called straight",
                    *per_call(members_cpu_direct, members_idle, direct_wall),
                    "baseline",
                ],
                [
                    "members, called by the gateway",
                    *per_call(members_cpu_through, members_idle, through_wall),
                    "",
                ],
                [
                    "gateway (all its threads)",
                    *per_call(gateway_cpu, gateway_idle, through_wall),
                    "",
                ],
            ],
        )
    )
    print(
        f"idle CPU: gateway {gateway_idle:.1%} of a core, members {members_idle:.1%} "
        f"(over {IDLE_SECONDS} s before the calls)"
    )
    push_rate = sent.accepted / sent.wall_seconds
    push_cpu_ms = push_cpu / sent.accepted * 1000
    print(
        table(
            ["signed single pushes", "a second", "gateway CPU per push", "sender CPU", "target"],
            [
                [
                    f"{sent.accepted:,} from {SENDERS} senders",
                    f"{push_rate:,.0f}",
                    f"{push_cpu_ms:.2f} ms",
                    f"{sent.client_cpu_seconds / sent.accepted * 1000:.2f} ms",
                    f"≥ {TARGET_PUSHES_PER_SECOND:,} / ≤ {TARGET_PUSH_CPU_MS} ms",
                ],
                [
                    "proxied GET (same run)",
                    "",
                    f"{gateway_cpu / measured * 1000:.2f} ms",
                    "",
                    "baseline",
                ],
            ],
        )
    )
    print(f"load average during the pushes: {push_load_before:.1f} → {push_load_after:.1f}")
    return (
        added_p50 <= TARGET_ADDED_P50_MS
        and added_p99 <= TARGET_ADDED_P99_MS
        and push_rate >= TARGET_PUSHES_PER_SECOND
    )
