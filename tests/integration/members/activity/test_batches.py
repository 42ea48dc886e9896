"""Chat messages folded a batch at a time, on the real broker and database: duplicates inside
and across batches pay once, a poison event mid-batch is dead-lettered alone, a kill -9
mid-batch loses and doubles nothing, the strike ladder climbs in message order."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from services.common.contracts import ChatMessagePosted, dead_letter_topic
from services.common.kafka import KafkaPublisher, OutgoingRecord, ensure_topics
from services.common.runtime import ServiceSpec
from services.members.app import SPEC
from tests.integration.common.conftest import read_topic
from tests.integration.conftest import TOKEN, WORKSPACE, eventually
from tests.integration.members.activity_support import add_group, message, taken_in
from tests.integration.members.conftest import MembersApi
from tests.integration.members.factories import Factories

pytestmark = pytest.mark.integration

# Enough for several batches of 50 either side of the kill, few enough for a loaded machine.
SENT = 600
NO_CAP = {"points": {"message": 1, "message_daily_cap": 1_000_000}}


def _record(data: ChatMessagePosted) -> OutgoingRecord:
    event = data.to_event(source="/test", workspace_id=WORKSPACE, community_id=None, subject=None)
    return OutgoingRecord(data.topic, event.key, event.kafka_value(), event.kafka_headers())


def _scalar(engine: sa.Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def test_duplicates_inside_and_across_batches_pay_once(members: MembersApi) -> None:
    community = members.community(settings=NO_CAP)
    group = add_group(members, community["id"])
    sent = [message(group, f"wx_dup_{n % 4}", f"第{n}条") for n in range(20)]
    records = [_record(m) for m in sent]
    # One event delivered twice in the batch; one message pushed twice (two events).
    twice = records[5]
    pushed_again = _record(sent[9])
    members._publisher.publish([*records[:10], twice, pushed_again, *records[10:], records[0]])
    ids = [m.message_external_id for m in sent]
    assert eventually(lambda: taken_in(members, ids)), "not consumed"
    # And the same again in a later batch.
    marker = message(group, "wx_dup_0", "标记")
    members._publisher.publish([records[3], _record(sent[12]), _record(marker)])
    assert eventually(lambda: taken_in(members, [marker.message_external_id]))

    engine = members.engine
    cid = community["id"]
    assert (
        _scalar(engine, "SELECT count(*) FROM activity_message WHERE community_id = :c", c=cid)
        == 21
    )
    assert (
        _scalar(
            engine,
            "SELECT count(*) FROM points_entry WHERE community_id = :c AND reason = 'message'",
            c=cid,
        )
        == 21
    )
    assert _scalar(engine, "SELECT sum(points) FROM member WHERE community_id = :c", c=cid) == 21
    assert (
        _scalar(engine, "SELECT sum(message_count) FROM member WHERE community_id = :c", c=cid)
        == 21
    )
    assert (
        _scalar(
            engine, "SELECT sum(messages) FROM member_activity_day WHERE community_id = :c", c=cid
        )
        == 21
    )
    # Four senders, each a member once however many messages they sent in one batch.
    assert _scalar(engine, "SELECT count(*) FROM member WHERE community_id = :c", c=cid) == 4


def test_a_poison_event_mid_batch_is_dead_lettered_alone_and_the_rest_are_folded(
    members: MembersApi, kafka_bootstrap: str
) -> None:
    community = members.community(settings=NO_CAP)
    group = add_group(members, community["id"])
    before = [message(group, "wx_p", f"前{n}") for n in range(10)]
    after = [message(group, f"wx_q{n}", f"后{n}") for n in range(10)]
    poison = _record(message(group, "wx_p", "坏"))
    broken = orjson.loads(poison.value)
    del broken["message_external_id"]  # fails validation: the event's fault, not an outage's
    poison = OutgoingRecord(poison.topic, poison.key, orjson.dumps(broken), poison.headers)
    members._publisher.publish([*map(_record, before), poison, *map(_record, after)])
    ids = [m.message_external_id for m in before + after]
    assert eventually(lambda: taken_in(members, ids)), "the rest were not folded"
    topic = members.settings.kafka_topic_prefix + ChatMessagePosted.topic
    dead = read_topic(kafka_bootstrap, dead_letter_topic(topic), expect=1)
    assert [dict(r.headers)["ce_id"] for r in dead] == [dict(poison.headers)["ce_id"]]
    assert b"ValidationError" in dict(dead[0].headers)["qunyun_dlq_error"]
    assert (
        _scalar(
            members.engine,
            "SELECT count(*) FROM points_entry WHERE community_id = :c",
            c=community["id"],
        )
        == 20
    )


def test_the_strike_ladder_climbs_in_message_order_inside_one_batch(
    members: MembersApi,
) -> None:
    community = members.community()
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_ladder")
    sent = [
        message(group, "wx_ladder", "早上好"),
        message(group, "wx_ladder", "加我微信 ladder_1abc"),
        message(group, "wx_ladder", "又来了"),
        message(group, "wx_ladder", "加我微信 ladder_2abc"),
        message(group, "wx_ladder", "加我微信 ladder_3abc"),
        message(group, "wx_ladder", "被移出后还在说话"),
    ]
    members._publisher.publish([_record(m) for m in sent])
    assert eventually(lambda: taken_in(members, [m.message_external_id for m in sent]))
    with members.engine.connect() as conn:
        cases = conn.execute(
            sa.text(
                "SELECT message_external_id, strikes_before, action FROM moderation_case"
                " WHERE member_id = :m ORDER BY strikes_before"
            ),
            {"m": member["id"]},
        ).all()
        paid = (
            conn.execute(
                sa.text(
                    "SELECT source_id FROM points_entry WHERE member_id = :m AND reason = 'message'"
                ),
                {"m": member["id"]},
            )
            .scalars()
            .all()
        )
        status = conn.execute(
            sa.text("SELECT status FROM member WHERE id = :m"), {"m": member["id"]}
        ).scalar_one()
    assert [(c[0], c[1], c[2]) for c in cases] == [
        (sent[1].message_external_id, 0, "warn"),
        (sent[3].message_external_id, 1, "mute"),
        (sent[4].message_external_id, 2, "remove"),
    ]
    assert status == "removed"
    # The two clean messages before the removal earn; the one after it does not.
    assert len(paid) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _members_process(database: str, kafka_bootstrap: str, prefix: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "QUNYUN_DATABASE_URL": database,
        "QUNYUN_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "QUNYUN_KAFKA_TOPIC_PREFIX": prefix,
        "QUNYUN_KAFKA_PARTITIONS": "1",
        "QUNYUN_INTERNAL_TOKEN": TOKEN,
        "QUNYUN_PERIODIC_ENABLED": "false",
        "QUNYUN_CONSUMER_BATCH_MAX_EVENTS": "50",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "services.members.app:create_app",
            "--factory",
            "--port",
            str(_free_port()),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_kill_9_mid_batch_loses_nothing_and_doubles_nothing(
    new_database: Callable[[ServiceSpec], str], kafka_bootstrap: str
) -> None:
    database = new_database(SPEC)
    make = Factories(sa.create_engine(database), WORKSPACE)
    community = make.community(settings=NO_CAP)
    group = make.group(community["id"], platform="wechat")
    prefix = f"t{uuid.uuid4().hex[:8]}."
    engine = sa.create_engine(database)
    count = "SELECT count(*) FROM activity_message"

    ensure_topics(kafka_bootstrap, [prefix + ChatMessagePosted.topic], partitions=1)
    first = _members_process(database, kafka_bootstrap, prefix)
    try:
        sent = [message(group, f"wx_k{n % 60}", f"第{n}条消息") for n in range(SENT)]
        publisher = KafkaPublisher(kafka_bootstrap, client_id="test", topic_prefix=prefix)
        publisher.publish([_record(m) for m in sent])
        publisher.close()
        deadline = time.monotonic() + 90
        while _scalar(engine, count) < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
    folded_at_kill = _scalar(engine, count)
    assert 0 < folded_at_kill < len(sent), "the kill did not land mid-stream"

    second = _members_process(database, kafka_bootstrap, prefix)
    try:
        deadline = time.monotonic() + 300
        while _scalar(engine, count) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # long enough for a redelivered batch to double something, if it could
    finally:
        second.terminate()
        second.wait(20)
    cid = community["id"]
    assert _scalar(engine, count) == SENT
    assert _scalar(engine, "SELECT count(*) FROM points_entry WHERE reason = 'message'") == SENT
    assert (
        _scalar(engine, "SELECT sum(message_count) FROM member WHERE community_id = :c", c=cid)
        == SENT
    )
    assert _scalar(engine, "SELECT sum(points) FROM member WHERE community_id = :c", c=cid) == SENT
    assert _scalar(engine, "SELECT sum(messages) FROM member_activity_day") == SENT
    assert _scalar(engine, "SELECT count(*) FROM member WHERE community_id = :c", c=cid) == 60
    engine.dispose()
