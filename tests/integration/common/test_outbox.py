"""The outbox relay against the real broker and database."""

import os
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from deploy.local.kafka import KafkaBroker
from deploy.local.processes import free_port
from services.common.cloudevents import CloudEvent
from services.common.kafka import KafkaPublisher, ensure_topics
from services.common.outbox import OutboxRelay, enqueue, enqueue_all, outbox
from tests.integration.common.conftest import read_topic, wait_for

pytestmark = pytest.mark.integration


def _event(n: int, community: str = "cmt_a") -> CloudEvent:
    return CloudEvent(
        type="io.qunyun.test.happened.v1",
        source="/test",
        workspaceid="ws_1",
        communityid=community,
        data={"n": n},
    )


def _write(engine: Engine, topic: str, events: list[CloudEvent]) -> None:
    with engine.begin() as conn:
        for event in events:
            enqueue(conn, event, topic=topic)


def _unsent(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).where(outbox.c.sent_at.is_(None))
        ).scalar_one()


def _relay(engine: Engine, bootstrap: str, **options: object) -> OutboxRelay:
    return OutboxRelay(
        engine,
        lambda: KafkaPublisher(bootstrap, client_id="test", timeout_seconds=3),
        poll_seconds=0.05,
        **options,
    )  # type: ignore[arg-type]


def test_rows_are_published_in_order_as_cloudevents_and_marked_sent(
    kit_engine: Engine, kafka_bootstrap: str, topic: str
) -> None:
    events = [_event(n) for n in range(25)]
    _write(kit_engine, topic, events)
    relay = _relay(kit_engine, kafka_bootstrap, batch_size=10)

    assert [relay.relay_batch() for _ in range(4)] == [10, 10, 5, 0]
    records = read_topic(kafka_bootstrap, topic, expect=25)
    received = [CloudEvent.from_kafka(r.headers, r.value) for r in records]
    assert [e.id for e in received] == [e.id for e in events]
    assert all(r.key == b"cmt_a" for r in records)
    assert received[0].data == {"n": 0} and received[0].workspaceid == "ws_1"
    assert _unsent(kit_engine) == 0 and relay.measure_backlog() == 0


def test_many_events_enqueued_at_once_are_stored_and_published_as_one_by_one(
    kit_engine: Engine, kafka_bootstrap: str, topic: str
) -> None:
    # Data whose JSON text a careless round trip would change: escapes, non-ASCII, U+2028,
    # numbers spelt in ways Postgres' jsonb would respell, nesting, an empty object.
    awkward = {
        "text": '大家晚上好 "引号" \\ \u2028 😀 \\u0041',
        "numbers": [1.5e300, 0.1, -0.0, 12345678901234567890, 1e-07],
        "nested": {"z": None, "a": [True, {}]},
    }
    events = [
        _event(0),
        CloudEvent(
            type="io.qunyun.test.happened.v1", source="/test", workspaceid="ws_1", data=awkward
        ),
        _event(2, community="cmt_b"),
    ]
    with kit_engine.begin() as conn:
        enqueue_all(conn, [(e, topic) for e in events])
        enqueue(conn, alone := replace(events[1], id="evt_alone"), topic=topic, key="one_by_one")
    with kit_engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox.c.event_id, outbox.c.key, outbox.c.headers, outbox.c.payload).order_by(
                outbox.c.seq
            )
        ).all()
    assert [r.event_id for r in rows] == [e.id for e in [*events, alone]]
    assert [r.key for r in rows] == ["cmt_a", "ws_1", "cmt_b", "one_by_one"]
    for row, event in zip(rows, [*events, alone], strict=True):
        assert bytes(row.payload) == event.kafka_value()
        assert [(k, v.encode()) for k, v in row.headers] == event.kafka_headers()

    assert _relay(kit_engine, kafka_bootstrap).relay_batch() == 4
    received = [
        CloudEvent.from_kafka(r.headers, r.value)
        for r in read_topic(kafka_bootstrap, topic, expect=4)
    ]
    assert received == [*events, alone]


def test_what_was_written_while_the_broker_was_down_is_delivered_once_it_is_back(
    kit_engine: Engine, tmp_path: Path
) -> None:
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    topic = "outage.v1"
    _write(kit_engine, topic, [_event(n) for n in range(20)])
    relay = _relay(kit_engine, bootstrap, max_backoff_seconds=0.5)
    stop = threading.Event()
    worker = threading.Thread(target=relay.run, args=(stop,))
    worker.start()
    broker = KafkaBroker(tmp_path / "kafka", port=port, controller_port=free_port())
    try:
        stop.wait(2)  # the relay tries and fails while nothing listens
        assert _unsent(kit_engine) == 20
        broker.start()
        ensure_topics(bootstrap, [topic], partitions=1)
        wait_for(lambda: _unsent(kit_engine) == 0, timeout=30, what="the backlog to drain")
        records = read_topic(bootstrap, topic, expect=20)
        assert sorted(CloudEvent.from_kafka(r.headers, r.value).data["n"] for r in records) == list(
            range(20)
        )
    finally:
        stop.set()
        worker.join()
        broker.stop()


def test_two_relays_on_one_database_publish_each_row_once(
    kit_engine: Engine, kafka_bootstrap: str, topic: str
) -> None:
    events = [_event(n, community=f"cmt_{n % 3}") for n in range(300)]
    _write(kit_engine, topic, events)
    stop = threading.Event()
    workers = [
        threading.Thread(
            target=_relay(kit_engine, kafka_bootstrap, batch_size=20).run, args=(stop,)
        )
        for _ in range(2)
    ]
    for w in workers:
        w.start()
    try:
        wait_for(lambda: _unsent(kit_engine) == 0, what="both relays to drain the outbox")
    finally:
        stop.set()
        for w in workers:
            w.join()
    records = read_topic(kafka_bootstrap, topic, expect=300)
    ids = [CloudEvent.from_kafka(r.headers, r.value).id for r in records]
    assert len(ids) == 300 and set(ids) == {e.id for e in events}
    # One community's events keep the order they were written in.
    for community in ("cmt_0", "cmt_1", "cmt_2"):
        got = [
            CloudEvent.from_kafka(r.headers, r.value).data["n"]
            for r in records
            if r.key == community.encode()
        ]
        assert got == sorted(got)


def test_sent_rows_older_than_the_retention_are_pruned(
    kit_engine: Engine, kafka_bootstrap: str, topic: str
) -> None:
    _write(kit_engine, topic, [_event(n) for n in range(3)])
    relay = _relay(kit_engine, kafka_bootstrap, retention=timedelta(0))
    relay.relay_batch()
    _write(kit_engine, topic, [_event(9)])
    assert relay.prune_sent() == 3
    assert _unsent(kit_engine) == 1


CRASHING_RELAY = """
import os, signal, sys
from services.common.db import make_engine
from services.common.kafka import KafkaPublisher
from services.common.outbox import OutboxRelay

url, bootstrap = sys.argv[1], sys.argv[2]

class PublishThenDie(KafkaPublisher):
    def publish(self, records):
        super().publish(records)
        os.kill(os.getpid(), signal.SIGKILL)  # acknowledged by Kafka, never marked sent

OutboxRelay(make_engine(url), lambda: PublishThenDie(bootstrap, client_id="doomed")).relay_batch()
"""


def test_a_relay_killed_after_publishing_publishes_again_and_loses_nothing(
    kit_engine: Engine, fresh_database_url: str, kafka_bootstrap: str, topic: str
) -> None:
    events = [_event(n) for n in range(5)]
    _write(kit_engine, topic, events)
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_RELAY, fresh_database_url, kafka_bootstrap],
        env={**os.environ},
        capture_output=True,
        timeout=60,
    )
    assert crashed.returncode == -9, crashed.stderr.decode()
    assert _unsent(kit_engine) == 5  # the crash came before the rows were marked

    assert _relay(kit_engine, kafka_bootstrap).relay_batch() == 5
    records = read_topic(kafka_bootstrap, topic, expect=10)
    copies = Counter(CloudEvent.from_kafka(r.headers, r.value).id for r in records)
    # At-least-once: each event twice, none lost; consumers dedupe by event id.
    assert copies == {e.id: 2 for e in events}
