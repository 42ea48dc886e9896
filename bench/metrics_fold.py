"""Metrics' fold of chat messages, on the real broker and Postgres, each figure beside a
baseline measured in the same run:

1. fold rate: records read from Kafka and folded into the daily rollups by metrics' own
   consumer loop (`BatchConsumer.run_batches` with metrics' handlers: CloudEvent headers,
   the claim of the batch's event ids, the fold), a batch of the service's size (2,000;
   BENCH_FOLD_BATCH) per transaction (offsets committed after it), against the raw
   kafka-python consumer reading the same records and doing nothing with them. Records are
   produced and consumed with the platform's own settings (`KafkaPublisher`,
   `KafkaEventSource`), rates are counted from the first record polled (the group join left
   out), and each row says its CPU per message, which a loaded machine distorts far less
   than the rate, how much of it is the work after the poll, and the CPU Postgres spent per
   message (its backends'); the statements a batch took follow. This process freezes its
   heap before reading, as the service does once started. Target: at least 20,000 messages
   per second.
2. the same records folded again (a redelivery): every one a duplicate, nothing changes.
3. ingest → visible: messages produced at 5,000 per second, each timed from its event time
   (set as it is sent) to the commit that makes it visible in the daily stats, against the
   same time to being polled. Target: p99 under 2 s.
4. queries over a year of daily rollups for 1,000 groups: a group's daily stats over 365
   days and its weekly series, against reading the same 365 rows raw. Target: p95 < 100 ms.

Sizes: BENCH_FOLD_MESSAGES (100,000), BENCH_GROUPS (1,000), BENCH_FOLD_BATCH (the service's).
A broker is started unless KAFKA_BOOTSTRAP_SERVERS names one.
"""

import gc
import os
import random
import statistics
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from kafka.admin import KafkaAdminClient, NewTopic
from sqlalchemy import Engine
from sqlmodel import Session

from bench._metrics_reads import fold_read, metrics_consumer, platform_source, raw_read
from bench._process_cpu import listening_pid
from bench.broker import running_broker
from bench.timing import measure, table
from deploy.local.postgres import database_url, ensure_databases
from services.common.cloudevents import CloudEvent
from services.common.contracts import ChatMessagePosted
from services.common.db import make_engine, migrate
from services.common.kafka import IncomingRecord, KafkaEventSource, KafkaPublisher, OutgoingRecord
from services.metrics.app import SPEC
from services.metrics.replica.models import Community
from services.metrics.rollups.daily import Scope, daily_stats
from services.metrics.rollups.series import Interval, series

TARGET_RATE = 20_000.0
TARGET_VISIBLE_P99_S = 2.0
TARGET_QUERY_P95_MS = 100.0
# Records a batch transaction folds: the service's own (`SPEC.batch_max_events`) unless
# BENCH_FOLD_BATCH says otherwise. A batch's fixed costs (a dozen round trips, the offset
# commits) and its share of speakers met before in the batch make the size count.
BATCH = int(os.environ.get("BENCH_FOLD_BATCH", SPEC.batch_max_events))
WORKSPACE = "ws_bench"
COMMUNITY = "cmt_bench"
GROUPS_WITH_CHAT = 50
SPEAKERS = 2000
OPERATORS = 20
PARTITIONS = 3


def _seed(engine: Engine, groups: int) -> None:
    """A community in Asia/Shanghai with `groups` groups and its speakers' identities."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO community (community_id, workspace_id, name, purpose, timezone, "
                "members_total, created_at, updated_at) VALUES (:c, :w, 'bench', 'interest', "
                "'Asia/Shanghai', :n, :t, :t)"
            ),
            {"c": COMMUNITY, "w": WORKSPACE, "n": SPEAKERS, "t": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO chat_group (group_id, workspace_id, community_id, platform, "
                "external_id, name, kind, state, members_total, created_at, updated_at) "
                "SELECT 'grp_' || g, :w, :c, 'wechat', 'wx_grp_' || g, 'g', 'permanent', "
                "'open', 0, :t, :t FROM generate_series(1, :groups) g"
            ),
            {"c": COMMUNITY, "w": WORKSPACE, "t": now, "groups": groups},
        )
        conn.execute(
            sa.text(
                "INSERT INTO member (member_id, workspace_id, community_id, role, stage, "
                "stage_since, present, joined_at) SELECT 'mbr_' || s, :w, :c, "
                "CASE WHEN s <= :ops THEN 'admin' ELSE 'member' END, 'joined', :t, true, :t "
                "FROM generate_series(1, :speakers) s"
            ),
            {"c": COMMUNITY, "w": WORKSPACE, "t": now, "ops": OPERATORS, "speakers": SPEAKERS},
        )
        conn.execute(
            sa.text(
                "INSERT INTO member_identity (community_id, speaker, member_id) "
                "SELECT :c, 'wechat:u' || s, 'mbr_' || s FROM generate_series(1, :speakers) s"
            ),
            {"c": COMMUNITY, "speakers": SPEAKERS},
        )


def _record(rng: random.Random, topic: str, at: datetime) -> OutgoingRecord:
    group = rng.randint(1, GROUPS_WITH_CHAT)
    data = ChatMessagePosted(
        platform="wechat",
        group_external_id=f"wx_grp_{group}",
        sender_external_id=f"u{rng.randint(1, SPEAKERS)}",
        occurred_at=at,
        message_external_id=uuid.uuid4().hex,
        text=rng.choice(("大家好", "今天的分享很有收获", "我要投诉", "谢谢老师", "打卡")),
        reply_to_external_id=None if rng.random() < 0.8 else "m",
    )
    event = data.to_event(
        source="/bench", workspace_id=WORKSPACE, community_id=COMMUNITY, subject=None
    )
    return OutgoingRecord(topic, event.key, event.kafka_value(), event.kafka_headers())


def _produce(servers: str, topic: str, count: int) -> None:
    """The records, sent as the platform's relay sends them (`KafkaPublisher`: idempotent,
    `acks=all`, linger 5 ms), a thousand a publish."""
    rng = random.Random(7)
    publisher = KafkaPublisher(servers, client_id="bench-producer")
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)  # around midnight in Shanghai: two local days
    for first in range(0, count, 1000):
        publisher.publish(
            [
                _record(rng, topic, start + timedelta(seconds=i * 3))
                for i in range(first, min(first + 1000, count))
            ]
        )
    publisher.close()


def _commit(source: KafkaEventSource, batch: list[IncomingRecord]) -> None:
    """Each partition's offset past its last record of the batch."""
    last = {(r.topic, r.partition): r for r in batch}
    for record in last.values():
        source.commit(record)


def _visible_latency(
    engine: Engine, servers: str, rate: int, seconds: int
) -> tuple[list[float], list[float]]:
    """Produce at `rate` per second (a publish every 10 ms, as a relay would) while folding;
    each message's time from its event time (set as it is sent) to being polled (the
    baseline) and to the commit that makes it visible in the stats."""
    topic = f"bench.visible.{uuid.uuid4().hex[:6]}"
    _create_topic(servers, topic)
    source = platform_source(servers, topic, f"visible-{uuid.uuid4().hex[:6]}", BATCH)
    consumer = metrics_consumer(engine, BATCH)
    source.poll(1.0)  # join the group before the clock starts
    total = rate * seconds
    latencies: list[float] = []
    received: list[float] = []

    def produce() -> None:
        rng = random.Random(11)
        publisher = KafkaPublisher(servers, client_id="bench-visible")
        tick, per_tick = 0.01, rate // 100
        began = time.monotonic()
        for n in range(total // per_tick):
            publisher.publish([_record(rng, topic, datetime.now(UTC)) for _ in range(per_tick)])
            time.sleep(max(0.0, began + (n + 1) * tick - time.monotonic()))
        publisher.close()

    thread = threading.Thread(target=produce)
    thread.start()
    while len(latencies) < total:
        batch = source.poll(0.2)
        if not batch:
            continue
        polled = time.time()
        events = [CloudEvent.from_kafka(r.headers, r.value) for r in batch]
        received += [polled - e.time.timestamp() for e in events]
        consumer.handle_batch(batch)
        _commit(source, batch)
        visible = time.time()
        latencies += [visible - e.time.timestamp() for e in events]
    thread.join()
    source.close()
    return received, latencies


def _create_topic(servers: str, topic: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=servers.split(","))
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    admin.close()


def _year_of_rollups(engine: Engine, groups: int) -> date:
    """365 days of rollups for `groups` groups and five speakers a group a day."""
    last = date(2026, 2, 28)
    year_start = last - timedelta(days=364)
    params = {"c": COMMUNITY, "w": WORKSPACE, "first": year_start, "last": last, "groups": groups}
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO group_day (group_id, day, community_id, workspace_id, members_total, "
                "joined, departed, messages, member_messages, operator_messages, speakers) "
                "SELECT 'grp_' || g, d::date, :c, :w, 200 + g % 50, g % 3, g % 2, 40 + g % 17, "
                "35 + g % 17, 5, 5 FROM generate_series(1, :groups) g, "
                "generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') d"
            ),
            params,
        )
        conn.execute(
            sa.text(
                "INSERT INTO group_speaker_day (group_id, day, speaker, community_id, messages) "
                "SELECT 'grp_' || g, d::date, 'wechat:u' || ((g * 7 + s * 13 + "
                "extract(doy FROM d)::int) % 300), :c, 7 FROM generate_series(1, :groups) g, "
                "generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') d, "
                "generate_series(1, 5) s ON CONFLICT DO NOTHING"
            ),
            params,
        )
        conn.exec_driver_sql("ANALYZE group_day")
        conn.exec_driver_sql("ANALYZE group_speaker_day")
    return last


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def benchmark(server_url: str) -> bool:
    count = int(os.environ.get("BENCH_FOLD_MESSAGES", "100000"))
    groups = int(os.environ.get("BENCH_GROUPS", "1000"))
    name = f"bench_metrics_{uuid.uuid4().hex[:6]}"
    ensure_databases(server_url, [name])
    engine = make_engine(database_url(server_url, name), pool_size=2)
    migrate(engine, SPEC.migrations_dir)
    _seed(engine, groups)
    ok = True
    with running_broker() as servers:
        topic = f"bench.messages.{uuid.uuid4().hex[:6]}"
        _create_topic(servers, topic)
        began = time.perf_counter()
        _produce(servers, topic, count)
        print(f"produced {count:,} messages in {time.perf_counter() - began:.1f}s")
        # The service freezes what exists once it has started (`create_service_app`), so the
        # cyclic collector does not walk it again and again; so does this process.
        gc.collect()
        gc.freeze()
        postgres = listening_pid(_port(server_url))
        raw, raw_cpu = raw_read(servers, topic, count, BATCH)
        first = fold_read(engine, servers, topic, count, BATCH, postgres=postgres)
        again = fold_read(engine, servers, topic, count, BATCH, postgres=postgres)
        with engine.connect() as conn:
            total = conn.execute(sa.text("SELECT sum(messages) FROM community_day")).scalar()

        def row(
            name: str, rate: float, cpu: float, target: str = "", postgres: float | None = None
        ) -> list[str]:
            return [
                name,
                f"{rate:,.0f}",
                f"{cpu * 1e6:,.1f}",
                f"{1 / cpu:,.0f}",
                "" if postgres is None else f"{postgres * 1e6:,.1f}",
                target,
            ]

        print(
            table(
                [
                    f"fold of chat messages (batches of {BATCH:,})",
                    "messages/s",
                    "CPU µs/msg",
                    "msgs/CPU-s",
                    "Postgres CPU µs/msg",
                    "target",
                ],
                [
                    row("baseline: raw kafka-python consumer, same records", raw, raw_cpu),
                    row(
                        "read + parse + fold + commit",
                        first.rate,
                        first.cpu,
                        f">= {TARGET_RATE:,.0f}/s",
                        first.postgres_cpu,
                    ),
                    row(
                        "  of which after the poll (headers, claim, fold)",
                        first.rate,
                        first.fold_cpu,
                    ),
                    row(
                        "the same records again (all duplicates)",
                        again.rate,
                        again.cpu,
                        postgres=again.postgres_cpu,
                    ),
                    row("  of which after the poll", again.rate, again.fold_cpu),
                ],
            )
        )
        print(
            f"messages in the rollups: {total:,} of {count:,}; duplicates refused: "
            f"{again.duplicates:,}; statements a batch {first.statements:.1f} "
            f"({again.statements:.1f} all duplicates); load average {os.getloadavg()[0]:.1f}"
        )
        ok &= first.rate >= TARGET_RATE and total == count and again.duplicates == count

        received, visible = _visible_latency(engine, servers, 5000, 10)
    rows = []
    for name, latencies in (
        ("baseline: produce → polled by kafka-python", received),
        ("produce → folded and committed (visible)", visible),
    ):
        latencies.sort()
        p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]
        rows.append([name, f"{p50:.3f}", f"{p99:.3f}", ""])
        visible_p99 = p99
    rows[1][3] = f"p99 < {TARGET_VISIBLE_P99_S}"
    print(table(["ingest → visible, 50,000 messages at 5,000/s", "p50 s", "p99 s", "target"], rows))
    ok &= visible_p99 < TARGET_VISIBLE_P99_S

    last = _year_of_rollups(engine, groups)
    year_start = last - timedelta(days=364)
    with Session(engine) as session:
        community = session.get(Community, COMMUNITY)
    assert community is not None
    rng = random.Random(3)

    def group() -> str:
        return f"grp_{rng.randint(1, groups)}"

    def raw_rows() -> object:
        with engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT * FROM group_day WHERE group_id = :g AND day BETWEEN :f AND :l"),
                {"g": group(), "f": year_start, "l": last},
            ).all()

    def year_daily() -> object:
        with Session(engine) as session:
            return daily_stats(
                session, scope=Scope(community, group()), first=year_start, last=last
            )

    def year_weekly() -> object:
        with Session(engine) as session:
            return series(
                session,
                scope=Scope(community, group()),
                metric="speakers",
                interval=Interval.week,
                first=year_start,
                last=last,
            )

    figures = {
        "baseline: the 365 rows, raw": measure(raw_rows, runs=50),
        "daily stats, 365 days (DAU/WAU/MAU...)": measure(year_daily, runs=50),
        "weekly series of speakers, 365 days": measure(year_weekly, runs=50),
    }
    print(
        table(
            [f"a group's year, {groups:,} groups of rollups", "p50 ms", "p95 ms", "target"],
            [
                [
                    k,
                    f"{f.p50:.1f}",
                    f"{f.p95:.1f}",
                    "" if k.startswith("baseline") else f"p95 < {TARGET_QUERY_P95_MS:.0f}",
                ]
                for k, f in figures.items()
            ],
        )
    )
    ok &= all(
        f.p95 < TARGET_QUERY_P95_MS for k, f in figures.items() if not k.startswith("baseline")
    )
    engine.dispose()
    return ok
