"""The idempotent consumer against the real broker and database."""

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.consumer import (
    EventConsumer,
    Handler,
    Unprocessable,
    processed_event,
    prune_processed,
)
from services.common.contracts import dead_letter_topic
from services.common.kafka import KafkaEventSource, KafkaPublisher, OutgoingRecord
from tests.integration.common.conftest import read_topic, tally, wait_for

pytestmark = pytest.mark.integration

EVENT_TYPE = "io.qunyun.community.created.v1"  # any registered type; the handler is ours


def _count(session: Session, event: CloudEvent) -> None:
    if event.data.get("poison"):
        raise ValueError("this event always fails")
    session.execute(
        insert(tally)
        .values(name=event.data["name"], count=1)  # type: ignore[arg-type]
        .on_conflict_do_update(index_elements=["name"], set_={"count": sa.text("tally.count + 1")})
    )


def _tallies(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: count for name, count in conn.execute(sa.text("SELECT name, count FROM tally"))
        }


def _event(name: str, **data: object) -> CloudEvent:
    return CloudEvent(
        type=EVENT_TYPE,
        source="/test",
        workspaceid="ws_1",
        communityid="cmt_1",
        data={"name": name, **data},
    )


@pytest.fixture
def publisher(kafka_bootstrap: str) -> Iterator[KafkaPublisher]:
    publisher = KafkaPublisher(kafka_bootstrap, client_id="test")
    yield publisher
    publisher.close()


def _send(publisher: KafkaPublisher, topic: str, *items: CloudEvent | OutgoingRecord) -> None:
    publisher.publish(
        [
            item
            if isinstance(item, OutgoingRecord)
            else OutgoingRecord(topic, item.key, item.kafka_value(), item.kafka_headers())
            for item in items
        ]
    )


class _Running:
    """An `EventConsumer` in a thread, in its own consumer group."""

    def __init__(
        self, engine: Engine, bootstrap: str, topic: str, handler: Handler, group: str | None = None
    ):
        self.consumer = EventConsumer(
            engine,
            name="test",
            handlers={EVENT_TYPE: handler},
            dead_letters=KafkaPublisher(bootstrap, client_id="dlq"),
            max_attempts=3,
            backoff_seconds=0.01,
            backoff_max_seconds=0.05,
        )
        self.source = KafkaEventSource(
            bootstrap,
            group_id=group or f"g-{uuid.uuid4().hex[:8]}",
            topics=[topic],
            client_id="test",
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self.consumer.run, args=(self.source, self.stop), kwargs={"poll_seconds": 0.2}
        )

    def __enter__(self) -> "_Running":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(15)


def test_the_same_event_delivered_twice_has_one_effect(
    kit_engine: Engine, kafka_bootstrap: str, topic: str, publisher: KafkaPublisher
) -> None:
    event = _event("joins")
    _send(publisher, topic, event, event, _event("joins"))
    with _Running(kit_engine, kafka_bootstrap, topic, _count):
        wait_for(lambda: _tallies(kit_engine).get("joins") == 2, what="two distinct events")
        # the duplicate is skipped, not counted: give it a moment to misbehave
        threading.Event().wait(1)
    assert _tallies(kit_engine) == {"joins": 2}


def test_a_poison_message_goes_to_the_dead_letter_topic_and_later_ones_still_run(
    kit_engine: Engine, kafka_bootstrap: str, topic: str, publisher: KafkaPublisher
) -> None:
    not_an_event = OutgoingRecord(topic, "cmt_1", b"garbage", [])
    poison = _event("poison", poison=True)
    _send(publisher, topic, _event("before"), poison, not_an_event, _event("after"))
    with _Running(kit_engine, kafka_bootstrap, topic, _count):
        wait_for(lambda: "after" in _tallies(kit_engine), what="the message behind the poison")
    assert _tallies(kit_engine) == {"before": 1, "after": 1}

    dead = read_topic(kafka_bootstrap, dead_letter_topic(topic), expect=2)
    assert [r.value for r in dead] == [poison.kafka_value(), b"garbage"]
    first = dict(dead[0].headers)
    assert first["qunyun_dlq_error"] == b"ValueError: this event always fails"
    assert first["qunyun_dlq_attempts"] == b"3"
    assert first["ce_id"] == poison.id.encode()  # the original event travels intact
    assert b"MalformedEvent" in dict(dead[1].headers)["qunyun_dlq_error"]


def test_an_unprocessable_event_is_dead_lettered_at_the_first_attempt(
    kit_engine: Engine, kafka_bootstrap: str, topic: str, publisher: KafkaPublisher
) -> None:
    tries: list[str] = []

    def refuses(session: Session, event: CloudEvent) -> None:
        tries.append(event.id)
        if event.data.get("stranger"):
            raise Unprocessable("community cmt_x is unknown in workspace ws_1")
        _count(session, event)

    stranger = _event("stranger", stranger=True)
    _send(publisher, topic, stranger, _event("after"))
    with _Running(kit_engine, kafka_bootstrap, topic, refuses):
        wait_for(lambda: "after" in _tallies(kit_engine), what="the event behind it")
    assert tries.count(stranger.id) == 1  # not retried: retrying cannot help
    [dead] = read_topic(kafka_bootstrap, dead_letter_topic(topic), expect=1)
    headers = dict(dead.headers)
    assert (headers["ce_id"], headers["qunyun_dlq_attempts"]) == (stranger.id.encode(), b"1")
    assert headers["qunyun_dlq_error"].startswith(b"Unprocessable: community cmt_x")


def test_a_passing_failure_is_retried_and_then_succeeds(
    kit_engine: Engine, kafka_bootstrap: str, topic: str, publisher: KafkaPublisher
) -> None:
    failures = iter([RuntimeError("database hiccup"), RuntimeError("again")])

    def flaky(session: Session, event: CloudEvent) -> None:
        if (error := next(failures, None)) is not None:
            raise error
        _count(session, event)

    _send(publisher, topic, _event("flaky"))
    with _Running(kit_engine, kafka_bootstrap, topic, flaky):
        wait_for(lambda: _tallies(kit_engine) == {"flaky": 1}, what="the third attempt")
    assert read_topic(kafka_bootstrap, dead_letter_topic(topic), expect=0, timeout=1) == []


def test_offsets_are_committed_so_a_restarted_member_of_the_group_does_not_redo_work(
    kit_engine: Engine, kafka_bootstrap: str, topic: str, publisher: KafkaPublisher
) -> None:
    _send(publisher, topic, *[_event(f"e{n}") for n in range(5)])
    seen: list[str] = []

    def record(session: Session, event: CloudEvent) -> None:
        seen.append(event.id)
        _count(session, event)

    group = f"g-{uuid.uuid4().hex[:8]}"
    with _Running(kit_engine, kafka_bootstrap, topic, record, group):
        wait_for(lambda: len(seen) == 5, what="five events")
    _send(publisher, topic, _event("e5"))
    with _Running(kit_engine, kafka_bootstrap, topic, record, group):
        wait_for(lambda: len(seen) == 6, what="the sixth event")
        threading.Event().wait(1)
    assert len(seen) == 6


def test_processed_event_ids_are_forgotten_after_the_retention(kit_engine: Engine) -> None:

    with Session(kit_engine) as session, session.begin():
        session.execute(
            insert(processed_event).values(
                consumer="c", event_id="old", processed_at=datetime.now(UTC) - timedelta(days=40)
            )
        )
        session.execute(insert(processed_event).values(consumer="c", event_id="new"))
    with Session(kit_engine) as session, session.begin():
        assert prune_processed(session, datetime.now(UTC), retention=timedelta(days=30)) == 1
    with kit_engine.connect() as conn:
        assert conn.execute(sa.select(processed_event.c.event_id)).scalars().all() == ["new"]
