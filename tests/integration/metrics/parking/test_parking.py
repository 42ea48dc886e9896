"""Park and replay on a real Postgres: chat and activity that reach metrics before the group or
community they name wait for it, are folded once when it arrives, and expire if it never
does. The community lives in Asia/Shanghai (UTC+8)."""

import threading
import time
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy import Engine
from sqlalchemy import event as sa_event
from sqlmodel import Session

from services.common.contracts import (
    AttendanceRecorded,
    ChatMessagePosted,
    CheckInRecorded,
    GroupMemberJoined,
    GroupMemberLeft,
    GroupUpdated,
    ViolationRecorded,
)
from services.common.periodic import run_job_once
from services.metrics.app import JOBS
from services.metrics.replica.models import Community
from services.metrics.rollups.daily import Scope, daily_stats
from services.metrics.rollups.messages import FOLD_CONSUMER, fold_messages
from tests.integration.metrics.conftest import Feed, at, event, message

MAR_1, MAR_2 = date(2026, 3, 1), date(2026, 3, 2)
EXPIRY_JOB = next(job for job in JOBS if job.name == "metrics-parked-expiry")


def _days(engine: Engine, group_id: str | None = None):  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        community = session.get(Community, "cmt_1")
        assert community is not None
        return daily_stats(session, scope=Scope(community, group_id), first=MAR_1, last=MAR_2)


def _scalar(engine: Engine, query: str, **params: object) -> object:
    with Session(engine) as session:
        return session.execute(sa.text(query), params).scalar()


def _parked(engine: Engine) -> object:
    return _scalar(engine, "SELECT count(*) FROM parked_event")


def _claimed(engine: Engine) -> object:
    return _scalar(
        engine, "SELECT count(*) FROM processed_event WHERE consumer = :c", c=FOLD_CONSUMER
    )


def _sample(outcome: str, event_type: str = ChatMessagePosted.type) -> float:
    value = REGISTRY.get_sample_value(
        "qunyun_metrics_parked_events_total", {"type": event_type, "outcome": outcome}
    )
    return value or 0.0


def test_chat_before_its_group_is_folded_once_when_the_group_arrives(
    feed: Feed, engine: Engine
) -> None:
    feed.community()
    feed.join("mbr_op", "op", at("2026-03-01T00:00:00"), role="admin")
    chat = [
        message("op", at("2026-03-01T02:00:00"), text="欢迎"),
        message("alice", at("2026-03-01T03:00:00")),
        message("bob", at("2026-03-01T15:59:59"), reply_to="m1"),
        message("alice", at("2026-03-01T16:00:00")),  # local midnight: March 2
    ]
    parked_before, replayed_before = _sample("parked"), _sample("replayed")
    feed(*chat)
    feed(chat[1], chat[3])  # delivered again while parked: still parked once
    assert (_parked(engine), _claimed(engine)) == (4, 0)  # no claim kept for a parked one
    assert _sample("parked") - parked_before == 4
    assert [d.messages for d in _days(engine)] == [0, 0]

    feed.group()
    mar1, mar2 = _days(engine, "grp_1")
    assert (mar1.messages, mar1.member_messages, mar1.operator_messages) == (3, 2, 1)
    assert (mar1.speakers, mar1.replies, mar2.messages, mar2.speakers) == (2, 1, 1, 1)
    community_mar1, _ = _days(engine)
    assert (community_mar1.messages, community_mar1.speakers) == (3, 2)
    assert (_parked(engine), _claimed(engine)) == (0, 4)
    assert _sample("replayed") - replayed_before == 4

    feed(*chat)  # delivered again after the replay: duplicates of what was folded
    feed.group()  # and the group's creation again changes nothing either
    assert [d.messages for d in _days(engine, "grp_1")] == [3, 1]


def test_a_batch_parks_its_unknown_groups_chat_in_one_insert_and_folds_the_rest(
    feed: Feed, engine: Engine
) -> None:
    feed.community()
    feed.group()
    batch = [
        message("a", at("2026-03-01T01:00:00")),
        *[message(s, at("2026-03-01T02:00:00"), group_external_id="wx_later") for s in "abc"],
        message("a", at("2026-03-01T03:00:00"), workspace="ws_other"),
    ]
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa_event.listen(engine, "before_cursor_execute", seen)
    try:
        with Session(engine) as session, session.begin():
            first = fold_messages(session, batch)
    finally:
        sa_event.remove(engine, "before_cursor_execute", seen)
    with Session(engine) as session, session.begin():
        again = fold_messages(session, batch)
    assert (first.folded, first.parked, first.duplicates) == (1, 4, 0)
    assert (again.folded, again.parked, again.duplicates) == (0, 0, 5)
    assert sum(s.startswith("INSERT INTO parked_event") for s in statements) == 1
    assert (_parked(engine), _claimed(engine)) == (4, 1)

    feed.group("grp_2", external_id="wx_later")
    assert [d.messages for d in _days(engine, "grp_2")] == [3, 0]
    assert [d.messages for d in _days(engine)] == [4, 0]
    assert _parked(engine) == 1  # the other workspace's group is still unknown


def test_chat_waits_for_the_community_of_a_group_that_came_first(
    feed: Feed, engine: Engine
) -> None:
    feed.group()  # its community's creation is still on its way
    feed(message("a", at("2026-03-01T01:00:00")), message("b", at("2026-03-01T02:00:00")))
    assert _parked(engine) == 2
    feed.community()
    assert [(d.messages, d.speakers) for d in _days(engine, "grp_1")] == [(2, 2), (0, 0)]
    assert _parked(engine) == 0


def test_chat_parked_under_a_new_external_id_is_folded_when_the_group_takes_it(
    feed: Feed, engine: Engine
) -> None:
    feed.community()
    feed.group()
    feed(message("a", at("2026-03-01T01:00:00"), group_external_id="wx_recreated"))
    assert _parked(engine) == 1
    feed(
        event(
            GroupUpdated(
                group_id="grp_1",
                community_id="cmt_1",
                platform="wechat",
                external_id="wx_recreated",
                name="一群",
                kind="permanent",
                state="open",
                capacity=500,
                position=1,
                dissolve_at=None,
                segment_id=None,
                changed=["external_id"],
                updated_at=at("2026-03-01T00:30:00"),
            )
        )
    )
    assert [d.messages for d in _days(engine, "grp_1")] == [1, 0]
    assert _parked(engine) == 0


def _membership(account: str, when: datetime, *, joined: bool = True, inviter: str | None = None):  # type: ignore[no-untyped-def]
    if joined:
        return event(
            GroupMemberJoined(
                platform="wechat",
                group_external_id="wx_grp_1",
                sender_external_id=account,
                inviter_external_id=inviter,
                occurred_at=when,
            )
        )
    return event(
        GroupMemberLeft(
            platform="wechat",
            group_external_id="wx_grp_1",
            sender_external_id=account,
            occurred_at=when,
        )
    )


def test_joins_and_leaves_before_their_group_are_applied_in_order_when_it_arrives(
    feed: Feed, engine: Engine
) -> None:
    feed.community()
    joined = GroupMemberJoined.type
    parked_before, replayed_before = _sample("parked", joined), _sample("replayed", joined)
    alice_joins = _membership("alice", at("2026-03-01T03:00:00"))
    bob_joins = _membership("bob", at("2026-03-01T15:00:00"), inviter="alice")
    alice_leaves = _membership("alice", at("2026-03-01T16:30:00"), joined=False)  # March 2
    feed(alice_leaves, bob_joins, alice_joins)  # out of order, as topics may deliver them
    feed(bob_joins)  # delivered again while parked: still parked once
    assert _parked(engine) == 3
    assert _sample("parked", joined) - parked_before == 2
    assert [(d.joined, d.left) for d in _days(engine)] == [(0, 0), (0, 0)]

    feed.group(external_id="wx_grp_1")
    assert _parked(engine) == 0
    assert _sample("replayed", joined) - replayed_before == 2
    mar1, mar2 = _days(engine, "grp_1")
    # Applied in the order they happened: alice's leave after her join, not refused as the
    # leave of someone absent.
    assert (mar1.joined, mar1.left, mar1.members_total) == (2, 0, 2)
    assert (mar2.joined, mar2.left, mar2.members_total) == (0, 1, 1)
    assert _scalar(engine, "SELECT members_total FROM chat_group WHERE group_id = 'grp_1'") == 1

    feed(bob_joins, alice_leaves)  # after the replay: someone present joining changes nothing
    mar1, mar2 = _days(engine, "grp_1")
    assert (mar1.joined, mar2.left, mar2.members_total) == (2, 1, 1)


def test_a_join_waits_for_the_community_of_a_group_that_came_first(
    feed: Feed, engine: Engine
) -> None:
    feed.group(external_id="wx_grp_1")
    feed(_membership("alice", at("2026-03-01T03:00:00")))
    assert _parked(engine) == 1
    feed.community()
    assert _parked(engine) == 0
    (mar1, _) = _days(engine, "grp_1")
    assert (mar1.joined, mar1.members_total) == (1, 1)


def test_activity_before_its_community_is_counted_when_the_community_arrives(
    feed: Feed, engine: Engine
) -> None:
    activity = [
        event(
            CheckInRecorded(
                member_id="mbr_a",
                community_id="cmt_1",
                challenge_id="chl_1",
                day="2026-03-02",
                streak=1,
                recorded_at=at("2026-03-01T16:30:00"),  # 00:30 local, March 2
            )
        ),
        event(
            AttendanceRecorded(
                member_id="mbr_a",
                community_id="cmt_1",
                activity_id="act_1",
                recorded_at=at("2026-03-01T03:00:00"),
            )
        ),
        event(
            ViolationRecorded(
                case_id="case_1",
                member_id="mbr_b",
                community_id="cmt_1",
                group_id="grp_1",
                platform="wechat",
                group_external_id="wx_grp_1",
                message_external_id="m9",
                identities=[],
                kinds=["link"],
                action="warn",
                mute_until=None,
                active_strikes=1,
                occurred_at=at("2026-03-01T04:00:00"),
                recorded_at=at("2026-03-01T04:00:01"),
            )
        ),
    ]
    parked_before = _sample("parked", CheckInRecorded.type)
    feed(*activity)
    feed(*activity)  # delivered again while parked
    assert _parked(engine) == 3
    assert _sample("parked", CheckInRecorded.type) - parked_before == 1

    feed.community()
    mar1, mar2 = _days(engine)
    assert (mar1.attendances, mar1.violations, mar1.violations_by_kind) == (1, 1, {"link": 1})
    assert (mar1.check_ins, mar2.check_ins) == (0, 1)
    assert _parked(engine) == 0


def test_what_waits_longer_than_the_retention_expires(feed: Feed, engine: Engine) -> None:
    feed.community()
    feed(message("a", at("2026-03-01T01:00:00"), group_external_id="wx_never"))
    feed(message("b", at("2026-03-01T01:00:00")))
    now = datetime.now(UTC)
    expired_before = _sample("expired")

    assert run_job_once(engine, EXPIRY_JOB, now=now + timedelta(days=6)) == 0
    assert _parked(engine) == 2
    waiting = {"type": ChatMessagePosted.type}
    assert REGISTRY.get_sample_value("qunyun_metrics_parked_events_waiting", waiting) == 2

    assert run_job_once(engine, EXPIRY_JOB, now=now + timedelta(days=7, minutes=1)) == 2
    assert (_parked(engine), _sample("expired") - expired_before) == (0, 2)
    feed.group()  # too late: what expired is not counted
    assert [d.messages for d in _days(engine, "grp_1")] == [0, 0]


def test_a_group_registered_while_its_chat_is_being_parked_still_gets_it(
    feed: Feed, engine: Engine
) -> None:
    """The race the parking lock closes: the fold has missed the group and parks the message
    while, in another transaction, the group is registered. The registration waits for the
    fold's commit, then folds what it parked."""
    feed.community()
    registered = threading.Event()

    def register() -> None:
        feed.group()
        registered.set()

    with Session(engine) as session, session.begin():
        result = fold_messages(session, [message("a", at("2026-03-01T01:00:00"))])
        assert result.parked == 1
        racer = threading.Thread(target=register)
        racer.start()
        time.sleep(0.5)
        assert not registered.is_set(), "the registration did not wait for the parking"
    racer.join(timeout=10)
    assert registered.is_set()
    assert [d.messages for d in _days(engine, "grp_1")] == [1, 0]
    assert _parked(engine) == 0
