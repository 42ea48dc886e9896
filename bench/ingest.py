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
cProfile (its event loop's thread only: the batches are taken in worker threads);
BENCH_PYSPY=<file> samples all its threads with py-spy while the batches are posted (collapsed
stacks; `pip install --target /tmp/spy py-spy` and put its `bin` on PATH; not blocking the
gateway, it counts threads waiting on a socket too: for CPU by step, time a step's
`time.thread_time()`).
BENCH_INGEST_WORKERS=<n> runs it with n uvicorn worker processes (the deployment runs one).
BENCH_INGEST_BASELINE_CODE=<a checkout> also posts the same batches through that checkout's
gateway, after this one's: before/after figures from the same run; BENCH_INGEST_ROUNDS=<n>
alternates the two n times, so that a change of load weighs on both alike.
"""

import functools
import os
import random
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson

from bench._ingest_gateway import CONCURRENCY, WORKSPACE, gateway_run
from bench._ingest_producers import kafka_python_rate, librdkafka_rate, records
from bench.broker import running_broker
from bench.timing import table
from services.common.contracts import topics
from services.common.kafka import ensure_topics

TARGET_PER_SECOND = 20_000.0
TARGET_SHARE = 0.5
BATCH = 500
GROUPS = 200

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
        made = records(WORKSPACE, messages)
        raw_per_batch, raw_cpu = kafka_python_rate(bootstrap, raw_topic, made, per=BATCH)
        raw_once, _ = kafka_python_rate(bootstrap, raw_topic, made, per=len(made))
        rd_per_batch, rd_cpu = librdkafka_rate(bootstrap, raw_topic, made, per=BATCH)
        run_gateway = functools.partial(
            gateway_run,
            server_url=server_url,
            bootstrap=bootstrap,
            prefix=prefix,
            bodies=bodies,
            warm=warm,
            logs=logs,
        )
        rounds = int(os.environ.get("BENCH_INGEST_ROUNDS", "1"))
        runs = {}
        for n in range(rounds):
            of = f" #{n + 1}" if rounds > 1 else ""
            runs[of.strip()] = run_gateway(code=None)
            if baseline_code:  # the same batches through another checkout's gateway
                runs[f"baseline{of}"] = run_gateway(code=Path(baseline_code))
    run = next(iter(runs.values()))
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
