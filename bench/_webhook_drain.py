"""The webhooks benchmark's throughput half: a dispatcher draining a backlog.

The backlog is committed to an outbox and relayed to Kafka *before* the dispatcher starts, so
neither how fast this machine commits nor how fast a relay publishes caps the figure: the rate
is the dispatcher's own, from its first delivery to its last. Its CPU and the Postgres
server's CPU are read over the same window, with the gateway database's transactions, so the
cost per delivery is reported next to the rate (on a loaded machine the rate is noise, the
CPU per delivery is not).

A drain may run the dispatcher of another source tree (`git archive` of a revision): the same
backlog, the same receiver, in the same run, for paired before/after figures.
"""

import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
from sqlalchemy import Engine

from bench._process_cpu import cpu_seconds
from deploy.local.postgres import database_url, ensure_databases
from deploy.local.processes import free_port, spawn, stop, wait_until
from services.common import outbox
from services.common.contracts import ALL_TOPICS, MemberStatusChanged, PlatformIdentity
from services.common.kafka import KafkaPublisher, ensure_topics

WORKSPACE = "ws_bench"
COMMUNITIES = 200  # ordered endpoint: one in flight per community
# In flight at once, for the dispatcher and the baseline alike. More only adds connection
# overhead against a receiver on the same machine.
CONCURRENCY = 64

# Run in the dispatcher's source tree: its own migrations, its own endpoint creation.
_SETUP = """
import sys
from sqlmodel import Session
from gateway.webhooks import service
from gateway.webhooks.app import MIGRATIONS
from gateway.webhooks.models import EndpointCreate
from gateway.webhooks.settings import WebhookSettings
from services.common.db import make_engine, migrate
url, workspace, target = sys.argv[1:]
engine = make_engine(url, pool_size=1)
migrate(engine, MIGRATIONS)
settings = WebhookSettings(webhook_allowed_networks="127.0.0.0/8")
with Session(engine) as session:
    service.create_endpoint(session, workspace_id=workspace,
        data=EndpointCreate(url=target), allowed_networks=settings.allowed_networks)
    session.commit()
engine.dispose()
"""


@dataclass(frozen=True)
class Drain:
    delivered: int
    duplicates: int
    per_second: float
    dispatcher_cpu: float  # seconds per delivery
    postgres_cpu: float  # seconds per delivery, the whole server
    transactions: float  # gateway database commits per delivery


def event(i: int) -> MemberStatusChanged:
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


def commit_events(engine: Engine, start: int, count: int, batch: int = 1000) -> None:
    """Commit `count` events to the producer's outbox, `batch` per transaction."""
    for offset in range(start, start + count, batch):
        rows = []
        for i in range(offset, min(offset + batch, start + count)):
            data = event(i)
            built = data.to_event(
                source="/bench",
                workspace_id=WORKSPACE,
                community_id=data.community_id,
                subject=None,
            )
            rows.append((built, data.topic))
        with engine.begin() as conn:
            outbox.enqueue_all(conn, rows)


class PostgresCpu:
    """CPU of the whole Postgres server (postmaster and every backend and worker) and one
    database's committed transactions. A backend that exits between two readings takes its
    CPU along; the dispatcher's pooled connections live through a drain."""

    def __init__(self, server_url: str, database: str):
        self._server_url, self._database = server_url, database
        with psycopg.connect(server_url, autocommit=True) as conn:
            backend = conn.execute("SELECT pg_backend_pid()").fetchone()
            assert backend is not None
            # While the connection is open: its backend exits with it.
            self._postmaster = psutil.Process(backend[0]).parent()

    def read(self) -> tuple[dict[int, float], int]:
        cpu = {}
        for process in [self._postmaster, *self._postmaster.children()]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            cpu[process.pid] = times.user + times.system
        with psycopg.connect(self._server_url, autocommit=True) as conn:
            found = conn.execute(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (self._database,)
            ).fetchone()
        return cpu, int(found[0]) if found else 0

    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def serve(
    args: list[str],
    port: int,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> "subprocess.Popen[bytes]":
    process = spawn(args, log_path=log, env=env, cwd=cwd)

    def ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    wait_until(ready, timeout=120, what=args[2], process=process, log_path=log)
    return process


def start_dispatcher(
    *, tree: Path, database: str, bootstrap: str, prefix: str, log: Path, profile: list[str]
) -> tuple["subprocess.Popen[bytes]", int]:
    port = free_port()
    process = serve(
        [sys.executable, *profile, "-m", "gateway.webhooks", "--port", str(port)],
        port,
        log,
        env={
            "QUNYUN_DATABASE_URL": database,
            "QUNYUN_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "QUNYUN_KAFKA_TOPIC_PREFIX": prefix,
            "QUNYUN_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "QUNYUN_WEBHOOK_MAX_IN_FLIGHT": str(CONCURRENCY),
            "QUNYUN_WEBHOOK_ENDPOINT_MAX_IN_FLIGHT": str(CONCURRENCY),
            "QUNYUN_LOG_LEVEL": "WARNING",
        },
        cwd=tree,
    )
    return process, port


def prepare(server_url: str, tree: Path, receiver: str) -> tuple[str, str]:
    """A fresh gateway database migrated by `tree`'s code with one endpoint at the receiver;
    its name and URL."""
    name = f"bench_wh_gateway_{uuid.uuid4().hex[:6]}"
    ensure_databases(server_url, [name])
    url = database_url(server_url, name)
    subprocess.run(
        [sys.executable, "-c", _SETUP, url, WORKSPACE, f"{receiver}/hook"], cwd=tree, check=True
    )
    return name, url


def stats(receiver: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{receiver}/stats", timeout=30).json()
    return found


def wait_delivered(receiver: str, count: int, timeout: float) -> dict[str, Any]:
    """The receiver's figures once `count` distinct deliveries arrived, or at the timeout
    (then the rate is over what did arrive: a loaded machine still gets a figure)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = stats(receiver)
        if found["unique"] >= count:
            return found
        time.sleep(0.2)
    return stats(receiver)


def drain(
    *,
    server_url: str,
    producer: Engine,
    bootstrap: str,
    receiver: str,
    tree: Path,
    backlog: int,
    logs: Path,
    spy: str | None = None,
) -> Drain:
    """Queue `backlog` events on fresh topics, then start `tree`'s dispatcher on them."""
    name, url = prepare(server_url, tree, receiver)
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    ensure_topics(bootstrap, [prefix + t for t in ALL_TOPICS], partitions=3)
    commit_events(producer, 10_000_000, backlog)
    publisher = KafkaPublisher(bootstrap, client_id="bench-backlog", topic_prefix=prefix)
    try:
        relay = outbox.OutboxRelay(producer, lambda: publisher, batch_size=2000)
        while relay.relay_batch():
            pass
    finally:
        publisher.close()
    httpx.post(f"{receiver}/reset")
    postgres = PostgresCpu(server_url, name)
    process, _ = start_dispatcher(
        tree=tree, database=url, bootstrap=bootstrap, prefix=prefix, log=logs, profile=[]
    )
    spying = None
    try:
        # The window opens at the first delivery: the process's start (imports, migrations
        # check, joining the group) is not the delivery rate.
        deadline = time.monotonic() + 120
        while (first := stats(receiver))["received"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        cpu_before = cpu_seconds(process.pid)
        pg_before, xacts_before = postgres.read()
        if spy:
            spying = subprocess.Popen(
                [
                    spy,
                    "record",
                    "--gil",
                    "-f",
                    "raw",
                    "-p",
                    str(process.pid),
                    "-o",
                    f"{logs}.spy.txt",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        done = wait_delivered(receiver, backlog, 240)
        cpu_after = cpu_seconds(process.pid)
        pg_after, xacts_after = postgres.read()
    finally:
        if spying is not None:
            spying.send_signal(2)
            spying.wait(60)
        stop(process)
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    counted = max(done["unique"] - first["unique"], 1)
    return Drain(
        delivered=done["unique"],
        duplicates=done["received"] - done["unique"],
        per_second=done["unique"] / max(done["last"] - done["first"], 1e-9),
        dispatcher_cpu=(cpu_after - cpu_before) / counted,
        postgres_cpu=PostgresCpu.spent(pg_before, pg_after) / counted,
        transactions=(xacts_after - xacts_before) / counted,
    )
