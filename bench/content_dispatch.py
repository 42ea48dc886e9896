"""Publishing at scale, with the content service's own dispatch job and outbox relay, on a
real Kafka broker started for the run:

1. a burst: 10,000 one-off schedules due in the same minute, dispatched (publications and
   `publication_due` rows in the outbox) and relayed to Kafka; target under 10 s;
2. a steady stream: 100 occurrences due per second for 20 s, with the dispatch job and the
   relay running as in production; target: lateness (occurrence → dispatched) p99 under 1 s.

Each is printed next to the raw kafka-python producer (acks=all) sending the same number of
records of the same size to the same broker in the same run.
"""

import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from kafka import KafkaProducer
from sqlalchemy import Engine

from bench.timing import table
from deploy.local.kafka import KafkaBroker
from deploy.local.postgres import database_url, ensure_databases
from deploy.local.processes import free_port
from services.common.contracts import topics
from services.common.db import make_engine, migrate
from services.common.kafka import KafkaPublisher, ensure_topics
from services.common.outbox import OutboxRelay
from services.common.periodic import PeriodicJob, run_job_once, run_periodic
from services.content.app import build_spec
from services.content.settings import ContentSettings

BURST = 10_000
BURST_TARGET_S = 10.0
RATE = 100  # due per second
STREAM_SECONDS = 20
LATENESS_TARGET_P99_S = 1.0
TIMEZONE = "Asia/Shanghai"
WORKSPACE = "ws_bench"


def _seed(engine: Engine, due: list[datetime]) -> None:
    """A community, a group and one one-off schedule (of approved content) per instant."""
    zone = ZoneInfo(TIMEZONE)
    suffix = uuid.uuid4().hex[:8]
    community, group, item = f"cmt_{suffix}", f"grp_{suffix}", f"cnt_{suffix}"
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO community VALUES (:c, :w, '基准社群', 'interest', :tz, now(), now())"
            ),
            {"c": community, "w": WORKSPACE, "tz": TIMEZONE},
        )
        conn.execute(
            sa.text(
                "INSERT INTO chat_group VALUES (:g, :w, :c, 'wechat', :g, '基准群', 'permanent', "
                "'filling', now(), NULL)"
            ),
            {"g": group, "w": WORKSPACE, "c": community},
        )
        conn.execute(
            sa.text(
                "INSERT INTO content_item (id, workspace_id, community_id, kind, title, body, "
                "media, tags, author, status, revision, reviewer, reviewed_at, created_at, "
                "updated_at) VALUES (:i, :w, :c, 'morning_brief', '早报', :body, '[]', '[]', "
                "'bench', 'approved', 1, 'bench', now(), now(), now())"
            ),
            {"i": item, "w": WORKSPACE, "c": community, "body": "今日要闻 " * 20},
        )
        conn.execute(
            sa.text(
                "INSERT INTO schedule (id, workspace_id, community_id, name, content_item_id, "
                "target, timezone, starts_at, exdates, state, next_due_at, created_by, "
                "created_at, updated_at) VALUES (:id, :w, :c, 'bench', :i, :target, :tz, "
                ":starts, '[]', 'active', :due, 'bench', :now, :now)"
            ),
            [
                {
                    "id": f"sch_{suffix}_{n:06d}",
                    "w": WORKSPACE,
                    "c": community,
                    "i": item,
                    "target": f'{{"kind": "groups", "group_ids": ["{group}"]}}',
                    "tz": TIMEZONE,
                    "starts": at.astimezone(zone).replace(tzinfo=None),
                    "due": at,
                    "now": now,
                }
                for n, at in enumerate(due)
            ],
        )


def _record_size(engine: Engine) -> int:
    with engine.connect() as conn:
        size = conn.execute(
            sa.text("SELECT avg(length(payload))::int FROM outbox WHERE sent_at IS NOT NULL")
        ).scalar()
    return int(size or 600)


def _raw_producer_seconds(bootstrap: str, topic: str, count: int, size: int) -> float:
    """The floor: kafka-python alone sending `count` records of `size` bytes, acks=all."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    payload = b"x" * size
    started = time.perf_counter()
    futures = [producer.send(topic, value=payload, key=b"k") for _ in range(count)]
    producer.flush()
    for future in futures:
        future.get(timeout=30)
    elapsed = time.perf_counter() - started
    producer.close()
    return elapsed


def _database(server_url: str) -> tuple[Engine, str]:
    name = f"bench_content_{uuid.uuid4().hex[:8]}"
    ensure_databases(server_url, [name])
    url = database_url(server_url, name)
    engine = make_engine(url, pool_size=4)
    migrate(engine, build_spec(ContentSettings()).migrations_dir)
    return engine, url


def _relay(engine: Engine, bootstrap: str, prefix: str) -> OutboxRelay:
    settings = ContentSettings()
    return OutboxRelay(
        engine,
        lambda: KafkaPublisher(bootstrap, client_id="bench-relay", topic_prefix=prefix),
        batch_size=settings.outbox_batch_size,
        poll_seconds=settings.outbox_poll_seconds,
    )


def burst(server_url: str, bootstrap: str) -> bool:
    engine, url = _database(server_url)
    prefix = f"b{uuid.uuid4().hex[:6]}."
    ensure_topics(bootstrap, [prefix + topics.CONTENT, prefix + "raw"], partitions=3)
    due_at = datetime.now(UTC).replace(second=0, microsecond=0)
    _seed(engine, [due_at] * BURST)
    settings = ContentSettings(database_url=url)
    job = next(j for j in build_spec(settings).periodic if j.name == "content-dispatch-due")
    relay = _relay(engine, bootstrap, prefix)
    started = time.perf_counter()
    while run_job_once(engine, job, due_at + timedelta(seconds=30)):
        pass
    dispatched = time.perf_counter() - started
    while relay.relay_batch():
        pass
    total = time.perf_counter() - started
    relay._drop_publisher()
    with engine.connect() as conn:
        publications = conn.execute(sa.text("SELECT count(*) FROM publication")).scalar()
        sent = conn.execute(
            sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL")
        ).scalar()
    size = _record_size(engine)
    raw = _raw_producer_seconds(bootstrap, prefix + "raw", BURST, size)
    engine.dispose()
    print(
        table(
            ["10,000 due in one minute", "seconds", "records/s"],
            [
                [
                    "dispatch (publications + outbox)",
                    f"{dispatched:.2f}",
                    f"{BURST / dispatched:,.0f}",
                ],
                ["dispatch + relay to Kafka", f"{total:.2f}", f"{BURST / total:,.0f}"],
                [f"raw kafka-python, {size} B records", f"{raw:.2f}", f"{BURST / raw:,.0f}"],
            ],
        )
    )
    print(
        f"publications {publications}, outbox rows on Kafka {sent}; target < {BURST_TARGET_S:.0f} s"
    )
    return publications == BURST and sent == BURST and total < BURST_TARGET_S


def stream(server_url: str, bootstrap: str) -> bool:
    engine, url = _database(server_url)
    prefix = f"s{uuid.uuid4().hex[:6]}."
    ensure_topics(bootstrap, [prefix + topics.CONTENT, prefix + "raw"], partitions=3)
    count = RATE * STREAM_SECONDS
    start = datetime.now(UTC) + timedelta(seconds=3)
    due = [start + timedelta(seconds=n / RATE) for n in range(count)]
    _seed(engine, due)
    settings = ContentSettings(database_url=url)
    jobs: list[PeriodicJob] = [
        j for j in build_spec(settings).periodic if j.name == "content-dispatch-due"
    ]
    stop = threading.Event()
    relay = _relay(engine, bootstrap, prefix)
    workers = [
        threading.Thread(target=run_periodic, args=(engine, jobs, stop)),
        threading.Thread(target=relay.run, args=(stop,)),
    ]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + STREAM_SECONDS + 15
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if (
                conn.execute(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")).scalar()
                == 0
                and conn.execute(sa.text("SELECT count(*) FROM publication")).scalar() == count
            ):
                break
        time.sleep(0.5)
    stop.set()
    for worker in workers:
        worker.join(30)
    with engine.connect() as conn:
        dispatched = [
            r[0]
            for r in conn.execute(
                sa.text("SELECT extract(epoch FROM dispatched_at - occurs_at) FROM publication")
            )
        ]
        on_kafka = [
            r[0]
            for r in conn.execute(
                sa.text(
                    "SELECT extract(epoch FROM o.sent_at - p.occurs_at) FROM publication p "
                    "JOIN outbox o ON convert_from(o.payload, 'UTF8')::jsonb->>'publication_id' "
                    "= p.id WHERE o.sent_at IS NOT NULL"
                )
            )
        ]
    raw = _raw_producer_seconds(bootstrap, prefix + "raw", count, _record_size(engine))
    engine.dispose()

    def cuts(values: list[float]) -> list[str]:
        if len(values) < 2:
            return ["-", "-", "-"]
        q = statistics.quantiles([float(v) for v in values], n=100, method="inclusive")
        return [
            f"{statistics.median(values) * 1000:.0f}",
            f"{q[94] * 1000:.0f}",
            f"{q[98] * 1000:.0f}",
        ]

    print(
        table(
            [f"{RATE}/s for {STREAM_SECONDS} s ({count})", "p50 ms", "p95 ms", "p99 ms"],
            [
                ["lateness: due → dispatched (outbox)", *cuts(dispatched)],
                ["due → relayed to Kafka", *cuts(on_kafka)],
            ],
        )
    )
    print(
        f"raw kafka-python sends the same {count} records in {raw:.2f} s; "
        f"publications {len(dispatched)}; target p99 < {LATENESS_TARGET_P99_S:.0f} s"
    )
    if len(dispatched) != count:
        return False
    p99 = statistics.quantiles([float(v) for v in dispatched], n=100, method="inclusive")[98]
    return p99 < LATENESS_TARGET_P99_S


def benchmark(server_url: str) -> bool:
    with tempfile.TemporaryDirectory(prefix="qunyun-bench-kafka-") as tmp:
        broker = KafkaBroker(Path(tmp), port=free_port(), controller_port=free_port())
        broker.start()
        try:
            return all(
                [
                    burst(server_url, broker.bootstrap_servers),
                    stream(server_url, broker.bootstrap_servers),
                ]
            )
        finally:
            broker.stop()
