"""Bulk chat ingestion: messages accepted per second through the gateway (a real uvicorn
process, its Postgres for de-duplication, a real Kafka broker started here unless
KAFKA_BOOTSTRAP_SERVERS names one) in batches of 500, next to two raw producers sending the
same records in the same run.

The client posts pre-built batches (realistic chat text, 200 groups) from 4 connections at
once; a batch counts when its 202 arrived, which means its messages are on Kafka. The raw
producers, in this process, send the same records (same key, value, CloudEvents headers),
flushing and waiting for every acknowledgement once per 500 — the guarantee a 202 gives:
- kafka-python, configured as the platform's `KafkaPublisher` (`PRODUCER_SETTINGS`: acks=all,
  idempotent, linger 5 ms, 256 KiB batches); also once at the end, as its ceiling. The
  issue's baseline.
- librdkafka (confluent-kafka), configured as the gateway's ingest producer
  (`rdkafka_producer_config`: the same guarantees), which the gateway uses since kafka-python
  alone spends more CPU per record than 20,000 a second allows on two cores.

Targets: ≥ 20,000 messages a second, and ≥ half the raw kafka-python producer's rate (flushed
per 500). On a machine others load, wall-clock rates follow the share of CPU each process gets
(the gateway and its client are two processes, a raw producer one), so the CPU each spends
per message is printed too: the load-independent comparison, for the gateway, the bench's
own client (aiohttp), Postgres (the de-duplication claim) and the broker, read from `/proc`.
Settings: BENCH_INGEST_MESSAGES (60,000). BENCH_PROFILE=<file> runs the gateway under
cProfile. BENCH_INGEST_WORKERS=<n> runs it with n uvicorn worker processes (the deployment
runs one). BENCH_INGEST_BASELINE_CODE=<a checkout> also posts the same batches through that
checkout's gateway, after this one's: before/after figures from the same run.
"""

import asyncio
import functools
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import confluent_kafka
import httpx
import orjson
from kafka import KafkaProducer

from bench._process_cpu import (
    cpu_seconds,
    listening_pid,
    threads_cpu_seconds,
    tree_cpu_seconds,
)
from bench.broker import running_broker
from bench.timing import table
from deploy.local.postgres import database_url, ensure_databases
from deploy.local.processes import free_port, spawn, stop, wait_until
from gateway.ingest.models import MessageIn
from gateway.ingest.publishing import Envelope, event_id
from services.common.contracts import topics
from services.common.kafka import (
    PRODUCER_SETTINGS,
    OutgoingRecord,
    ensure_topics,
)
from services.common.rdkafka import rdkafka_producer_config

TARGET_PER_SECOND = 20_000.0
TARGET_SHARE = 0.5
BATCH = 500
CONCURRENCY = 4
GROUPS = 200
WORKSPACE = "ws_bench"

PHRASES = [
    "大家晚上好，今天的分享太精彩了",
    "请问下周的线下活动在哪里报名？",
    "我觉得第三点说得特别对，我们公司也遇到过类似的问题",
    "收到，谢谢老师！",
    "有没有人一起去参加周六的读书会",
    "哈哈哈哈",
    "同意楼上的观点",
    "新人报到，请多关照",
    "今天打卡第 12 天，坚持就是胜利",
]


def _messages(count: int, rng: random.Random) -> list[dict[str, object]]:
    now = datetime.now(UTC).isoformat()
    return [
        {
            "platform": "wechat",
            "group_external_id": f"g{rng.randrange(GROUPS):04d}@chatroom",
            "sender_external_id": f"wx_{rng.randrange(5000)}",
            "sender_display_name": f"昵称{n % 997}",
            "occurred_at": now,
            "message_external_id": uuid.uuid4().hex,
            "text": "，".join(rng.choice(PHRASES) for _ in range(rng.randint(1, 3))),
        }
        for n in range(count)
    ]


def _records(messages: list[dict[str, object]]) -> list[OutgoingRecord]:
    """The records the gateway makes of these messages."""
    envelope = Envelope(workspace_id=WORKSPACE, source="/bench", now=datetime.now(UTC))
    out = []
    for m in messages:
        data = MessageIn.model_validate_json(orjson.dumps(m))
        identity = event_id(WORKSPACE, data.platform, "message", data.message_external_id)
        out.append(envelope.record(data, event_id=identity))
    return out


def _raw_rate(
    bootstrap: str, topic: str, records: list[OutgoingRecord], *, per: int
) -> tuple[float, float]:
    """kafka-python alone, configured as the platform's `KafkaPublisher` (`PRODUCER_SETTINGS`:
    acks=all, idempotent, linger 5 ms, 256 KiB batches), waiting for every ack once per `per`
    records: records a second, and CPU seconds (all its threads) per record."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_SETTINGS)
    producer.send(topic, value=b"warm", key=b"warm").get(timeout=30)
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(records), per):
        futures = [
            producer.send(topic, value=r.value, key=r.key.encode(), headers=r.headers)
            for r in records[start : start + per]
        ]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    producer.close()
    return len(records) / elapsed, cpu / len(records)


def _raw_rdkafka_rate(
    bootstrap: str, topic: str, records: list[OutgoingRecord], *, per: int
) -> tuple[float, float]:
    """librdkafka (confluent-kafka) alone, configured as the gateway's ingest producer
    (`rdkafka_producer_config`: acks=all, idempotent, linger 5 ms, murmur2 keys), waiting for
    every ack once per `per` records (a delivery callback a record, as the gateway's)."""
    producer = confluent_kafka.Producer(rdkafka_producer_config(bootstrap, client_id="bench-raw"))
    producer.produce(topic, b"warm", b"warm")
    producer.flush(30)
    failed: list[object] = []

    def delivered(error: object, _message: object) -> None:
        if error is not None:
            failed.append(error)

    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(records), per):
        for r in records[start : start + per]:
            producer.produce(topic, r.value, r.key, headers=r.headers, on_delivery=delivered)  # type: ignore[arg-type]
        if producer.flush(30) or failed:
            raise RuntimeError(f"librdkafka did not deliver: {failed[:1]}")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    producer.close()
    return len(records) / elapsed, cpu / len(records)


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


def _gateway_run(
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
        seconds, accepted, other, unavailable = asyncio.run(_post_all(url, key, bodies))
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


def _profiled() -> list[str]:
    target = os.environ.get("BENCH_PROFILE")
    return ["-m", "cProfile", "-o", target] if target else []


def benchmark(server_url: str) -> bool:
    count = int(os.environ.get("BENCH_INGEST_MESSAGES", "60000"))
    count -= count % BATCH
    baseline_code = os.environ.get("BENCH_INGEST_BASELINE_CODE")
    rng = random.Random(20)
    logs = Path(tempfile.mkdtemp(prefix="qunyun-bench-ingest-"))
    with running_broker() as bootstrap:
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        topic = prefix + topics.INGEST_MESSAGES
        raw_topic = f"{prefix}raw.{topics.INGEST_MESSAGES}"
        ensure_topics(bootstrap, [topic, raw_topic], partitions=3)
        warm = [orjson.dumps({"messages": _messages(BATCH, rng)}) for _ in range(4)]
        messages = _messages(count, rng)
        bodies = [
            orjson.dumps({"messages": messages[i : i + BATCH]}) for i in range(0, count, BATCH)
        ]
        records = _records(messages)
        raw_per_batch, raw_cpu = _raw_rate(bootstrap, raw_topic, records, per=BATCH)
        raw_once, _ = _raw_rate(bootstrap, raw_topic, records, per=len(records))
        rd_per_batch, rd_cpu = _raw_rdkafka_rate(bootstrap, raw_topic, records, per=BATCH)
        gateway_run = functools.partial(
            _gateway_run,
            server_url=server_url,
            bootstrap=bootstrap,
            prefix=prefix,
            bodies=bodies,
            warm=warm,
            logs=logs,
        )
        runs = {"": gateway_run(code=None)}
        if baseline_code:  # the same batches through another checkout's gateway
            runs["baseline"] = gateway_run(code=Path(baseline_code))
    run = runs[""]
    load = os.getloadavg()
    print(
        f"ingest: {count:,} messages in batches of {BATCH}, {CONCURRENCY} connections, "
        f"{GROUPS} groups, {len(bodies[0]) // BATCH} bytes a message, gateway workers: "
        f"{os.environ.get('BENCH_INGEST_WORKERS') or 'one process'}; load average "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores "
        f"(logs in {logs})"
    )
    rows = [
        ["raw kafka-python, ack awaited per 500", f"{raw_per_batch:,.0f}/s", "baseline"],
        ["raw kafka-python, ack awaited once", f"{raw_once:,.0f}/s", "ceiling"],
        ["raw librdkafka, ack awaited per 500", f"{rd_per_batch:,.0f}/s", "baseline"],
        ["raw kafka-python CPU per message", f"{raw_cpu * 1e6:.0f} µs", "baseline"],
        ["raw librdkafka CPU per message", f"{rd_cpu * 1e6:.1f} µs", "baseline"],
    ]
    for label, r in runs.items():
        of = f" ({label})" if label else ""
        machine = r.gateway_cpu + r.client_cpu + (r.postgres_cpu or 0) + (r.broker_cpu or 0)
        rows += [
            [
                f"accepted through the gateway{of}",
                f"{r.rate:,.0f}/s",
                f"≥ {TARGET_PER_SECOND:,.0f}/s",
            ],
            [
                f"share of the raw producer{of}",
                f"{r.rate / raw_per_batch:.0%}",
                f"≥ {TARGET_SHARE:.0%}",
            ],
            [f"accepted / not accepted{of}", f"{r.accepted:,} / {r.other:,}", f"{count:,} / 0"],
            [f"503s (broker slow), retried{of}", str(r.unavailable), "0"],
            [
                f"CPU per message: gateway{of}",
                r.per_message(r.gateway_cpu),
                f"{r.accepted / max(r.gateway_cpu, 1e-9):,.0f}/s a core",
            ],
            [
                f"  gateway threads{of}",
                ", ".join(f"{k} {r.per_message(v)}" for k, v in r.gateway_threads.items()),
                "",
            ],
            [f"CPU per message: bench client{of}", r.per_message(r.client_cpu), "aiohttp"],
            [f"CPU per message: Postgres{of}", r.per_message(r.postgres_cpu), "dedup claim"],
            [f"CPU per message: Kafka broker{of}", r.per_message(r.broker_cpu), ""],
            [
                f"CPU per message: all four{of}",
                r.per_message(machine),
                f"{2 * r.accepted / max(machine, 1e-9):,.0f}/s on 2 cores",
            ],
        ]
    print(table(["figure", "value", "baseline / target"], rows))
    return (
        run.rate >= TARGET_PER_SECOND
        and run.rate >= TARGET_SHARE * raw_per_batch
        and run.accepted == count
    )
