"""Chat folded the way the service folds it: records through the kit's `BatchConsumer` with
metrics' handlers, which claims the batch's event ids itself (the fold does not claim them a
second time). The community lives in Asia/Shanghai (UTC+8)."""

from collections.abc import Sequence
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy import event as sa_event
from sqlmodel import Session

from services.common.batch_folds import BatchFold
from services.common.batches import BatchConsumer
from services.common.cloudevents import CloudEvent
from services.common.contracts import ChatMessagePosted
from services.common.kafka import IncomingRecord, OutgoingRecord
from services.metrics.app import SPEC
from services.metrics.replica.models import Community
from services.metrics.rollups.daily import Scope, daily_stats
from services.metrics.rollups.handlers import fold_message_batch
from services.metrics.rollups.messages import FOLD_CONSUMER, Tally, tally_messages
from tests.integration.metrics.conftest import Feed, at, message

MAR_1, MAR_2 = date(2026, 3, 1), date(2026, 3, 2)
TOPIC = "qunyun.ingest.messages.v1"


class _DeadLetters:
    def __init__(self) -> None:
        self.records: list[OutgoingRecord] = []

    def publish(self, records: list[OutgoingRecord]) -> None:
        self.records += records


def _consumer(
    engine: Engine, dead: _DeadLetters, chat: BatchFold[Tally] | None = None
) -> BatchConsumer:
    """Metrics' consumer; `chat` in place of its chat fold."""
    return BatchConsumer(
        engine,
        name=SPEC.name,
        handlers=SPEC.handlers,
        batch_handlers={**SPEC.batch_handlers, **({ChatMessagePosted.type: chat} if chat else {})},
        dead_letters=dead,
        max_attempts=1,
        backoff_seconds=0,
    )


def _records(*events: CloudEvent) -> list[IncomingRecord]:
    return [
        IncomingRecord(TOPIC, 0, n, e.key.encode(), e.kafka_value(), e.kafka_headers())
        for n, e in enumerate(events)
    ]


def _days(engine: Engine, group_id: str | None = None) -> list[tuple[int, int, int, int]]:
    with Session(engine) as session:
        community = session.get(Community, "cmt_1")
        assert community is not None
        days = daily_stats(session, scope=Scope(community, group_id), first=MAR_1, last=MAR_2)
    return [(d.messages, d.member_messages, d.speakers, d.replies) for d in days]


def _rows(engine: Engine) -> dict[str, object]:
    with Session(engine) as session:
        return {
            table: session.execute(sa.text(f"SELECT count(*), sum(messages) FROM {table}")).one()
            for table in ("group_speaker_day", "community_speaker_day", "group_hour")
        }


def _chat() -> list[CloudEvent]:
    return [
        message("alice", at("2026-03-01T04:00:00")),
        message("alice", at("2026-03-01T15:59:59.999")),  # 23:59:59.999 on 1 March, local
        message("bob", at("2026-03-01T16:00:00"), reply_to="m1"),  # local midnight: 2 March
        message("carol", at("2026-03-01T23:30:00")),  # 07:30 on 2 March, 1 March in UTC
        message("carol", at("2026-03-01T23:31:00"), group_external_id="wx_grp_2"),
    ]


def test_a_batch_folds_once_on_the_local_day_and_again_changes_nothing(
    feed: Feed, engine: Engine
) -> None:
    feed.community(timezone="Asia/Shanghai")
    feed.group()
    feed.group("grp_2")
    chat = _chat()
    dead = _DeadLetters()
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa_event.listen(engine, "before_cursor_execute", seen)
    try:
        _consumer(engine, dead).handle_batch(_records(*chat, chat[0]))  # one event twice
    finally:
        sa_event.remove(engine, "before_cursor_execute", seen)
    # The community's days: its two groups' summed, each speaker once a day.
    assert _days(engine) == [(2, 2, 1, 0), (3, 3, 2, 1)]
    assert _days(engine, "grp_1") == [(2, 2, 1, 0), (2, 2, 2, 1)]
    assert _days(engine, "grp_2") == [(0, 0, 0, 0), (1, 1, 1, 0)]
    # Statements per batch, not per message: the kit's claim, groups, operators, and one
    # upsert per rollup table; no second claim of the ids under the fold's own name.
    claims = [s for s in statements if "processed_event" in s]
    assert len(claims) == 1 and len(statements) <= 10
    with Session(engine) as session:
        claimed = session.execute(
            sa.text("SELECT consumer, count(*) FROM processed_event GROUP BY consumer")
        ).all()
    assert claimed == [(SPEC.name, 5)]
    assert FOLD_CONSUMER not in dict(claimed)

    before = _rows(engine)
    _consumer(engine, dead).handle_batch(_records(*chat))  # the same batch again
    assert _days(engine) == [(2, 2, 1, 0), (3, 3, 2, 1)]
    assert _rows(engine) == before
    assert dead.records == []


def test_a_batch_counted_before_its_transaction_folds_as_one_counted_in_it(
    feed: Feed, engine: Engine
) -> None:
    """The kit's two steps: the batch counted while the previous one is written (its groups
    and operators read on a connection of its own), then written in the transaction."""
    feed.community(timezone="Asia/Shanghai")
    feed.group()
    feed.group("grp_2")
    tallies: list[Tally | None] = []

    def prepare(connection: Connection, events: Sequence[CloudEvent]) -> Tally | None:
        tallies.append(tally_messages(connection, events))
        return tallies[-1]

    dead = _DeadLetters()
    consumer = _consumer(engine, dead, BatchFold(prepare=prepare, apply=fold_message_batch))
    consumer.handle_batch(_records(*_chat()))
    assert len(tallies) == 1 and tallies[0] is not None and tallies[0].counted == 5
    assert _days(engine) == [(2, 2, 1, 0), (3, 3, 2, 1)]
    assert _days(engine, "grp_1") == [(2, 2, 1, 0), (2, 2, 2, 1)]
    assert _days(engine, "grp_2") == [(0, 0, 0, 0), (1, 1, 1, 0)]

    # A group metrics does not know yet: the rest is counted before, its message is left to
    # the transaction, which looks again and parks it.
    stranger = message("dave", at("2026-03-01T05:00:00"), group_external_id="wx_grp_9")
    later = message("erin", at("2026-03-01T06:00:00"))
    consumer.handle_batch(_records(stranger, later))
    assert tallies[-1] is not None and tallies[-1].counted == 1
    assert [event.id for event, _ in tallies[-1].unmatched] == [stranger.id]
    assert _days(engine) == [(3, 3, 2, 0), (3, 3, 2, 1)]
    with Session(engine) as session:
        parked = session.execute(sa.text("SELECT event_id FROM parked_event")).scalars().all()
    assert parked == [stranger.id]
    assert dead.records == []


@pytest.mark.parametrize(
    "occurred_at",
    [
        "yesterday",  # not a time: the contract refuses it
        "0001-01-01T00:00:00+00:00",  # a time with no local day in Asia/Shanghai
    ],
)
def test_a_poison_chat_record_is_dead_lettered_alone_and_the_rest_fold(
    feed: Feed, engine: Engine, occurred_at: str
) -> None:
    feed.community(timezone="Asia/Shanghai")
    feed.group()
    good = _chat()[:4]
    poison = message("mallory", at("2026-03-01T05:00:00"))
    object.__setattr__(poison, "data", {**poison.data, "occurred_at": occurred_at})
    dead = _DeadLetters()
    _consumer(engine, dead).handle_batch(_records(good[0], good[1], poison, good[2], good[3]))
    assert [r.headers for r in dead.records if ("ce_id", poison.id.encode()) in r.headers]
    assert len(dead.records) == 1
    assert _days(engine) == [(2, 2, 1, 0), (2, 2, 2, 1)]
