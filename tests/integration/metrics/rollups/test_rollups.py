"""Daily rollups on hand-computed fixtures, on a real Postgres. The community lives in
Asia/Shanghai (UTC+8): 15:59:59Z is 23:59:59 of one local day, 16:00:00Z the next's midnight."""

from datetime import date

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from services.common.contracts import (
    CheckInRecorded,
    GroupMemberJoined,
    MemberStatusChanged,
    ViolationRecorded,
)
from services.metrics.replica.models import Community
from services.metrics.rollups.daily import Scope, daily_stats
from services.metrics.rollups.messages import fold_messages
from services.metrics.rollups.series import Interval, series
from tests.integration.metrics.conftest import Feed, at, event, message

MAR_1, MAR_2, MAR_3, MAR_4 = (date(2026, 3, d) for d in (1, 2, 3, 4))


def _story(feed: Feed) -> None:
    feed.community()
    feed.group()
    feed.join("mbr_op", "op", at("2026-03-01T01:00:00"), role="admin")
    feed.join("mbr_alice", "alice", at("2026-03-01T02:00:00"))
    feed.join("mbr_bob", "bob", at("2026-03-01T15:59:59"))  # 23:59:59 local, March 1
    feed.join("mbr_carol", "carol", at("2026-03-01T16:00:00"))  # local midnight: March 2
    feed(
        message("op", at("2026-03-01T03:00:00"), text="欢迎新朋友"),
        message("alice", at("2026-03-01T04:00:00")),
        message("alice", at("2026-03-01T15:59:59")),
        message("alice", at("2026-03-01T16:00:00")),
        message("bob", at("2026-03-02T01:00:00"), text="我要投诉", reply_to="m1"),
    )
    feed(
        event(
            ViolationRecorded(
                case_id="case_1",
                member_id="mbr_bob",
                community_id="cmt_1",
                group_id="grp_1",
                platform="wechat",
                group_external_id="wx_grp_1",
                message_external_id="m9",
                identities=[],
                kinds=["link", "qr_code"],
                action="warn",
                mute_until=None,
                active_strikes=1,
                occurred_at=at("2026-03-02T02:00:00"),
                recorded_at=at("2026-03-02T02:00:01"),
            )
        ),
        event(
            CheckInRecorded(
                member_id="mbr_alice",
                community_id="cmt_1",
                challenge_id="chl_1",
                day="2026-03-02",
                streak=1,
                recorded_at=at("2026-03-02T00:30:00"),
            )
        ),
        event(
            MemberStatusChanged(
                member_id="mbr_bob",
                community_id="cmt_1",
                from_status="active",
                to_status="removed",
                actor="op",
                reason=None,
                until=None,
                identities=[],
                changed_at=at("2026-03-03T04:00:00"),
            )
        ),
    )


def _days(engine: Engine, first: date = MAR_1, last: date = MAR_4, group_id: str | None = None):  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        community = session.get(Community, "cmt_1")
        assert community is not None
        return daily_stats(session, scope=Scope(community, group_id), first=first, last=last)


def test_a_community_day_counts_what_happened_on_its_local_day(feed: Feed, engine: Engine) -> None:
    _story(feed)
    mar1, mar2, mar3, mar4 = _days(engine)

    assert (mar1.joined, mar1.members_total, mar1.left) == (3, 3, 0)
    assert (mar1.messages, mar1.member_messages, mar1.operator_messages) == (3, 2, 1)
    assert (mar1.speakers, mar1.speaking_rate, mar1.operator_share) == (1, 0.3333, 0.3333)
    assert (mar1.dau, mar1.wau, mar1.mau, mar1.stickiness) == (1, 1, 1, 1.0)
    assert (mar1.newcomers, mar1.newcomers_spoke_7d) == (3, 2)  # the admin's words don't count

    assert (mar2.joined, mar2.members_total) == (1, 4)
    assert (mar2.messages, mar2.member_messages, mar2.operator_messages) == (2, 2, 0)
    assert (mar2.speakers, mar2.speaking_rate, mar2.wau, mar2.mau) == (2, 0.5, 2, 2)
    assert (mar2.negative_messages, mar2.replies) == (1, 1)
    assert (mar2.newcomers, mar2.newcomers_spoke_7d) == (1, 0)
    assert (mar2.violations, mar2.violations_by_kind) == (1, {"link": 1, "qr_code": 1})
    assert mar2.check_ins == 1

    assert (mar3.left, mar3.net, mar3.members_total) == (1, -1, 3)
    assert (mar3.messages, mar3.speakers, mar3.wau, mar3.mau) == (0, 0, 2, 2)
    assert mar3.stickiness == 0.0
    assert (mar4.members_total, mar4.messages) == (3, 0)  # a quiet day carries the total


def test_the_group_day_counts_its_own_messages_and_bot_reported_joins(
    feed: Feed, engine: Engine
) -> None:
    _story(feed)
    feed(
        event(
            GroupMemberJoined(
                platform="wechat",
                group_external_id="wx_grp_1",
                sender_external_id="alice",
                occurred_at=at("2026-03-01T02:00:00"),
            )
        )
    )
    mar1, mar2, _, _ = _days(engine, group_id="grp_1")
    assert (mar1.joined, mar1.members_total, mar1.newcomers, mar1.newcomers_spoke_7d) == (
        1,
        1,
        1,
        1,
    )
    assert (mar1.messages, mar1.speakers, mar1.speaking_rate) == (3, 1, 1.0)
    assert (mar2.messages, mar2.speakers, mar2.members_total, mar2.violations) == (2, 2, 1, 1)
    assert mar2.violations_by_kind == {"link": 1, "qr_code": 1}


def test_the_same_batch_twice_changes_nothing(feed: Feed, engine: Engine) -> None:
    feed.community()
    feed.group()
    batch = [message(name, at(f"2026-03-01T0{i}:00:00")) for i, name in enumerate("aabc")]
    with Session(engine) as session, session.begin():
        first = fold_messages(session, [*batch, batch[0]])  # one event twice in the batch
    with Session(engine) as session, session.begin():
        again = fold_messages(session, batch)
    assert (first.folded, first.duplicates, again.folded, again.duplicates) == (4, 1, 0, 4)
    (mar1,) = _days(engine, MAR_1, MAR_1)
    assert (mar1.messages, mar1.speakers) == (4, 3)
    with Session(engine) as session:
        rows = session.execute(sa.text("SELECT sum(messages) FROM group_speaker_day")).scalar()
    assert rows == 4


def test_messages_from_an_unknown_group_or_workspace_are_parked_not_counted(
    feed: Feed, engine: Engine
) -> None:
    feed.community()
    feed.group()
    with Session(engine) as session, session.begin():
        result = fold_messages(
            session,
            [
                message("a", at("2026-03-01T01:00:00"), group_external_id="wx_unknown"),
                message("a", at("2026-03-01T01:00:00"), workspace="ws_other"),
            ],
        )
    assert (result.folded, result.parked) == (0, 2)
    (mar1,) = _days(engine, MAR_1, MAR_1)
    assert mar1.messages == 0


def test_weekly_buckets_sum_counts_and_count_speakers_once(feed: Feed, engine: Engine) -> None:
    _story(feed)
    with Session(engine) as session:
        community = session.get(Community, "cmt_1")
        assert community is not None
        scope = Scope(community)
        messages = series(
            session, scope=scope, metric="messages", interval=Interval.week, first=MAR_1, last=MAR_4
        )
        speakers = series(
            session, scope=scope, metric="speakers", interval=Interval.week, first=MAR_1, last=MAR_4
        )
        totals = series(
            session,
            scope=scope,
            metric="members_total",
            interval=Interval.month,
            first=MAR_1,
            last=MAR_4,
        )
    # March 1 2026 is a Sunday: its week began on Monday 23 February.
    assert [(p.start, p.value) for p in messages] == [(date(2026, 2, 23), 3), (MAR_2, 2)]
    assert [p.value for p in speakers] == [1, 2]
    assert [(p.start, p.value) for p in totals] == [(MAR_1, 3)]


def test_a_rollup_across_midnight_in_shanghai_lands_on_the_local_day(
    feed: Feed, engine: Engine
) -> None:
    feed.community(timezone="Asia/Shanghai")
    feed.group()
    with Session(engine) as session, session.begin():
        fold_messages(
            session,
            [
                message("a", at("2026-03-01T15:59:59.999")),  # 23:59:59.999 on 1 March
                message("b", at("2026-03-01T16:00:00")),  # 00:00 on 2 March
                message("c", at("2026-03-01T23:30:00")),  # 07:30 on 2 March, still 1 March in UTC
            ],
        )
    mar1, mar2 = _days(engine, MAR_1, MAR_2)
    assert (mar1.messages, mar1.speakers, mar2.messages, mar2.speakers) == (1, 1, 2, 2)
    mar1, mar2 = _days(engine, MAR_1, MAR_2, group_id="grp_1")
    assert (mar1.messages, mar2.messages) == (1, 2)
