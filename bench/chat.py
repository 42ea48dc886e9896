"""Chat at scale: how fast one members process folds bot-reported chat messages, on a real Kafka
broker (started here unless KAFKA_BOOTSTRAP_SERVERS names one) and Postgres.

Printed in one run: the raw kafka-python consumer's rate over the same records (the ceiling);
the fold rate of the per-event path (the baseline: one transaction and one offset commit per
message) and of the batch path (one per polled batch); and, at a steady 500 messages a second
on the batch path, the time from a message's acceptance (its timestamp, set as it is sent) to
its moderation case, p50 and p99. Messages are realistic chat text with 5 % advertisements,
20 % of them from senders not yet members. Targets: ≥ 2,000 messages a second for the batch
path; moderation p99 under 2 s.
"""

import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from kafka import KafkaConsumer
from sqlalchemy import Engine
from sqlmodel import Session

from bench.timing import table
from deploy.local.kafka import KafkaBroker
from deploy.local.postgres import database_url, ensure_databases
from deploy.local.processes import free_port
from services.common.batches import BatchConsumer
from services.common.clock import now
from services.common.contracts import ChatMessagePosted, dead_letter_topic
from services.common.db import make_engine, migrate
from services.common.ids import new_id
from services.common.kafka import KafkaEventSource, KafkaPublisher, OutgoingRecord, ensure_topics
from services.members.app import SPEC
from services.members.community.models import Community, Member, MemberIdentity
from services.members.groups.models import Group
from services.members.vocabulary import Platform, Purpose

TARGET_RATE = 2000.0
TARGET_P99_MS = 2000.0
WORKSPACE = "ws_bench"
KNOWN_SENDERS = 2000
BEFORE = int(os.environ.get("BENCH_CHAT_BEFORE", "1500"))
AFTER = int(os.environ.get("BENCH_CHAT_MESSAGES", "20000"))
STEADY_RATE, STEADY_SECONDS = 500, 20

PHRASES = [
    "大家晚上好，今天的分享太精彩了",
    "请问下周的线下活动在哪里报名？",
    "我觉得第三点说得特别对，我们公司也遇到过类似的问题",
    "收到，谢谢老师！",
    "有没有人一起去参加周六的读书会",
    "这个问题我之前在知乎上看到过一个很好的回答，链接我找找",
    "哈哈哈哈",
    "同意楼上的观点",
    "新人报到，请多关照",
    "[图片]",
    "今天打卡第 12 天，坚持就是胜利",
    "刚才的直播有回放吗？错过了前半段",
]
ADS = [
    "专业代购欧洲直邮，加我微信 deal_{n}abc",
    "兼职日结，有意者打 138-{n:04d}-5678",
    "低价出课程资料 https://shop.example.com/{n}",
]


def _messages(group: Group, count: int, rng: random.Random, *, tag: str) -> list[ChatMessagePosted]:
    out = []
    for n in range(count):
        if rng.random() < 0.2:
            sender = f"wx_new_{tag}_{n}"
        else:
            sender = f"wx_known_{rng.randrange(KNOWN_SENDERS)}"
        if rng.random() < 0.05:
            text = rng.choice(ADS).format(n=n)
        else:
            text = "，".join(rng.choice(PHRASES) for _ in range(rng.randint(1, 3)))
        out.append(
            ChatMessagePosted(
                platform="wechat",
                group_external_id=group.external_id,
                sender_external_id=sender,
                sender_display_name=f"昵称{sender[-4:]}",
                occurred_at=datetime.now(UTC),
                message_external_id=uuid.uuid4().hex,
                text=text,
                flags=[],
            )
        )
    return out


def _record(data: ChatMessagePosted) -> OutgoingRecord:
    event = data.to_event(source="/bench", workspace_id=WORKSPACE, community_id=None, subject=None)
    return OutgoingRecord(data.topic, event.key, event.kafka_value(), event.kafka_headers())


def _seed(server_url: str) -> tuple[Engine, Group]:
    """A fresh members database: one community, one group, KNOWN_SENDERS members."""
    name = f"bench_chat_{uuid.uuid4().hex[:8]}"
    ensure_databases(server_url, [name])
    engine = make_engine(database_url(server_url, name), pool_size=4)
    migrate(engine, SPEC.migrations_dir)
    with Session(engine) as session, session.begin():
        community = Community(
            id=new_id("cmt"),
            workspace_id=WORKSPACE,
            name="读书会",
            purpose=Purpose.interest,
            timezone="Asia/Shanghai",
        )
        session.add(community)
        session.flush()
        group = Group(
            id=new_id("grp"),
            workspace_id=WORKSPACE,
            community_id=community.id,
            platform=Platform.wechat,
            external_id=f"g{uuid.uuid4().hex[:12]}@chatroom",
            name="读书会 1 群",
            capacity=500,
            position=0,
        )
        session.add(group)
        members = [
            Member(
                id=new_id("mbr"),
                workspace_id=WORKSPACE,
                community_id=community.id,
                display_name=f"成员{n}",
                invite_code=f"B{n:07d}",
                joined_at=now(),
            )
            for n in range(KNOWN_SENDERS)
        ]
        session.add_all(members)
        session.flush()
        session.add_all(
            MemberIdentity(
                id=new_id("idn"),
                workspace_id=WORKSPACE,
                community_id=community.id,
                member_id=m.id,
                platform=Platform.wechat,
                external_id=f"wx_known_{n}",
            )
            for n, m in enumerate(members)
        )
        session.flush()
        session.expunge(group)
    return engine, group


def _folded(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM activity_message")).scalar_one())


def _fold_rate(
    engine: Engine, bootstrap: str, topic: str, expected: int, *, batches: bool
) -> tuple[float, float, float]:
    """Messages a second from the first folded to the last (group joining left out), messages
    per CPU-second of this process (the consumer's own cost, which a machine shared with
    other work does not distort), and statements sent to Postgres per message."""
    statements = [0]

    def count(*_: object, **__: object) -> None:
        if threading.current_thread() is not threading.main_thread():  # not the watching loop
            statements[0] += 1

    sa.event.listen(engine, "before_cursor_execute", count)
    dead = KafkaPublisher(bootstrap, client_id="bench-dlq")
    consumer = BatchConsumer(
        engine,
        name="members",
        handlers=SPEC.handlers,
        batch_handlers=SPEC.batch_handlers if batches else {},
        dead_letters=dead,
    )
    source = KafkaEventSource(
        bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        topics=[topic],
        client_id="bench",
        max_poll_records=500 if batches else 100,
    )
    stop = threading.Event()
    run = consumer.run_batches if batches else consumer.run
    thread = threading.Thread(target=run, args=(source, stop), kwargs={"poll_seconds": 0.2})
    thread.start()
    try:
        first: tuple[float, int] | None = None
        cpu = 0.0
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            seen = _folded(engine)
            if first is None and seen > 0:
                first = (time.monotonic(), seen)
                cpu = time.process_time()
                statements[0] = 0
            if seen >= expected:
                break
            time.sleep(0.05)
        assert first is not None, "nothing was folded"
        folded = seen - first[1]
        return (
            folded / max(time.monotonic() - first[0], 1e-6),
            folded / max(time.process_time() - cpu, 1e-6),
            statements[0] / max(folded, 1),
        )
    finally:
        stop.set()
        thread.join(30)
        dead.close()


def _raw_rate(bootstrap: str, topic: str, expected: int) -> float:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=500,
    )
    seen, started = 0, None
    deadline = time.monotonic() + 120
    while seen < expected and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            if started is None:
                started = time.monotonic()
            seen += len(records)
    consumer.close()
    assert started is not None
    return seen / max(time.monotonic() - started, 1e-6)


def _moderation_latency(server_url: str, bootstrap: str) -> list[float]:
    """At a steady STEADY_RATE on the batch path: ms from each ad's acceptance to its case."""
    engine, group = _seed(server_url)
    prefix = f"b{uuid.uuid4().hex[:6]}."
    topic = prefix + ChatMessagePosted.topic
    ensure_topics(bootstrap, [topic, dead_letter_topic(topic)], partitions=1)
    publisher = KafkaPublisher(bootstrap, client_id="bench", topic_prefix=prefix)
    dead = KafkaPublisher(bootstrap, client_id="bench-dlq")
    consumer = BatchConsumer(
        engine,
        name="members",
        handlers=SPEC.handlers,
        batch_handlers=SPEC.batch_handlers,
        dead_letters=dead,
    )
    source = KafkaEventSource(
        bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        topics=[topic],
        client_id="bench",
        max_poll_records=500,
    )
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run_batches, args=(source, stop))
    thread.start()
    rng = random.Random(7)
    try:
        publisher.publish([_record(m) for m in _messages(group, 50, rng, tag="warm")])
        time.sleep(5)  # the group joined and warm
        tick = 0.1
        per_tick = int(STEADY_RATE * tick)
        started = time.monotonic()
        for n in range(int(STEADY_SECONDS / tick)):
            batch = _messages(group, per_tick, rng, tag=f"s{n}")
            publisher.publish([_record(m) for m in batch])  # occurred_at: just now, accepted
            time.sleep(max(0.0, started + (n + 1) * tick - time.monotonic()))
        time.sleep(3)
    finally:
        stop.set()
        thread.join(30)
        publisher.close()
        dead.close()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT extract(epoch FROM created_at - occurred_at) * 1000 FROM moderation_case"
            )
        ).scalars()
        latencies = [float(r) for r in rows]
    engine.dispose()
    return latencies


def benchmark(server_url: str) -> bool:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    broker = None
    if not bootstrap:
        broker = KafkaBroker(
            Path(tempfile.mkdtemp(prefix="qunyun-bench-kafka-")),
            port=free_port(),
            controller_port=free_port(),
        )
        broker.start()
        bootstrap = broker.bootstrap_servers
    try:
        rows = []
        rates: dict[str, float] = {}
        for label, count, batches in (
            ("per-event path (before)", BEFORE, False),
            ("batch path (after)", AFTER, True),
        ):
            engine, group = _seed(server_url)
            prefix = f"b{uuid.uuid4().hex[:6]}."
            topic = prefix + ChatMessagePosted.topic
            ensure_topics(bootstrap, [topic, dead_letter_topic(topic)], partitions=1)
            publisher = KafkaPublisher(bootstrap, client_id="bench", topic_prefix=prefix)
            sent = _messages(group, count, random.Random(count), tag=label[:5])
            for start in range(0, count, 1000):
                publisher.publish([_record(m) for m in sent[start : start + 1000]])
            publisher.close()
            raw = _raw_rate(bootstrap, topic, count)
            rates[label], per_cpu, per_message = _fold_rate(
                engine, bootstrap, topic, count, batches=batches
            )
            rows.append(
                [
                    label,
                    str(count),
                    f"{raw:,.0f}",
                    f"{rates[label]:,.0f}",
                    f"{per_cpu:,.0f}",
                    f"{per_message:.2f}",
                ]
            )
            engine.dispose()
        print(
            table(
                [
                    "members fold",
                    "messages",
                    "raw kafka-python /s",
                    "folded /s",
                    "per CPU-s",
                    "statements/msg",
                ],
                rows,
            )
        )
        after = rates["batch path (after)"]
        before = rates["per-event path (before)"]
        print(
            f"batch path: {after / before:.1f}× the per-event path; target ≥ {TARGET_RATE:,.0f}/s"
        )
        latencies = _moderation_latency(server_url, bootstrap)
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        p50, p99 = statistics.median(latencies), cuts[98]
        print(
            f"acceptance → moderation case at {STEADY_RATE} msg/s for {STEADY_SECONDS} s "
            f"({len(latencies)} ads): p50 {p50:.0f} ms, p99 {p99:.0f} ms "
            f"(target p99 < {TARGET_P99_MS:.0f} ms)"
        )
        return after >= TARGET_RATE and p99 < TARGET_P99_MS
    finally:
        if broker is not None:
            broker.stop()
