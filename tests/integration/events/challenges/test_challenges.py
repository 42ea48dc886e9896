"""Daily check-in challenges (打卡): one per local day across midnight in Asia/Shanghai and
across the October DST change in Europe/Berlin, make-up cards, reward tiers, completion, the
leaderboard and bot pushes; events checked on Kafka."""

from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.common.clock import local_day
from services.common.contracts import CheckInPushed, CheckInRecorded
from services.events.challenges.service import check_in, make_up
from services.events.problems import Problem
from services.events.replica.service import community_of
from tests.integration.events.conftest import WORKSPACE, EventsApi, eventually, of_type

pytestmark = pytest.mark.integration


def _challenge(events: EventsApi, cid: str, start: str, end: str, **spec: Any) -> str:
    activity = events.activity(
        cid,
        kind="checkin_challenge",
        title="21天读书打卡",
        starts_at=f"{start}T00:00:00",
        ends_at=f"{end}T23:59:00",
        challenge={"starts_on": start, "ends_on": end, **spec},
    )
    events.move(cid, activity["id"], "published", "running")
    return activity["id"]  # type: ignore[no-any-return]


def _check_in(events: EventsApi, cid: str, chid: str, member: str, at: str) -> Any:
    with events.session() as session:
        community = community_of(session, workspace_id=WORKSPACE, community_id=cid)
        result = check_in(
            session,
            community=community,
            challenge_id=chid,
            member_id=member,
            now=datetime.fromisoformat(at),
        )
        session.commit()
        return result


def test_a_streak_across_midnight_in_shanghai(events: EventsApi) -> None:
    cid = events.community(timezone="Asia/Shanghai")
    ann = events.member(cid)
    chid = _challenge(events, cid, "2026-12-01", "2026-12-21")
    # 23:59 and 00:01 Shanghai time (UTC+8) are two local days, though 2 minutes apart.
    first = _check_in(events, cid, chid, ann, "2026-12-01T15:59:00+00:00")
    second = _check_in(events, cid, chid, ann, "2026-12-01T16:01:00+00:00")
    assert (first.day, second.day) == (date(2026, 12, 1), date(2026, 12, 2))
    assert (first.streak, second.streak) == (1, 2)
    # 09:00 local on 3 December, then 23:30 the same local day: the second is refused.
    _check_in(events, cid, chid, ann, "2026-12-03T01:00:00+00:00")
    with pytest.raises(Problem) as refused:
        _check_in(events, cid, chid, ann, "2026-12-03T15:30:00+00:00")
    assert refused.value.slug == "already-checked-in-today"
    # Missing a day breaks the streak; the count goes on.
    later = _check_in(events, cid, chid, ann, "2026-12-05T02:00:00+00:00")
    assert (later.streak, later.days) == (1, 4)

    published = events.published(expect=4)
    recorded = of_type(published, "check_in_recorded")
    assert [(e["day"], e["streak"]) for e in recorded] == [
        ("2026-12-01", 1),
        ("2026-12-02", 2),
        ("2026-12-03", 3),
        ("2026-12-05", 1),
    ]
    assert all(set(e) == set(CheckInRecorded.model_fields) for e in recorded)


def test_a_streak_across_the_dst_change_in_berlin(events: EventsApi) -> None:
    cid = events.community(timezone="Europe/Berlin")
    ann = events.member(cid)
    chid = _challenge(events, cid, "2026-10-20", "2026-11-09")
    # Clocks go back on 25 October: that local day lasts 25 hours. 22:30 UTC on the 24th is
    # 00:30 on the 25th (CEST); 22:30 UTC on the 25th is 23:30 the same day (CET), and 23:30
    # UTC is already 00:30 on the 26th. Counting days in UTC would merge two of them.
    days = [
        _check_in(events, cid, chid, ann, at).day
        for at in (
            "2026-10-24T21:30:00+00:00",  # 23:30 on the 24th
            "2026-10-24T22:30:00+00:00",  # 00:30 on the 25th
            "2026-10-25T23:30:00+00:00",  # 00:30 on the 26th
        )
    ]
    assert days == [date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)]
    with pytest.raises(Problem) as same_day:
        _check_in(events, cid, chid, ann, "2026-10-25T22:30:00+00:00")  # 23:30 on the 25th
    assert same_day.value.slug == "already-checked-in-today"
    record = events.get(f"/v1/communities/{cid}/challenges/{chid}/participants/{ann}").json()
    assert (record["streak"], record["days"]) == (3, 3)


def test_makeup_cards_tiers_completion_and_leaderboard(events: EventsApi) -> None:
    cid = events.community(timezone="Asia/Shanghai")
    ann, bob = events.member(cid), events.member(cid)
    chid = _challenge(
        events,
        cid,
        "2026-11-01",
        "2026-11-04",
        makeup_cards=1,
        tiers=[
            {"name": "坚持3天", "days": 3, "points": 30},
            {"name": "全勤", "days": 4, "points": 100, "badge": "全勤之星"},
        ],
    )
    for at in ("2026-11-01T02:00:00+00:00", "2026-11-03T02:00:00+00:00"):
        _check_in(events, cid, chid, ann, at)
    _check_in(events, cid, chid, bob, "2026-11-01T02:00:00+00:00")

    with events.session() as session:
        community = community_of(session, workspace_id=WORKSPACE, community_id=cid)
        now = datetime(2026, 11, 4, 2, tzinfo=UTC)
        filled = make_up(
            session,
            community=community,
            challenge_id=chid,
            member_id=ann,
            day=date(2026, 11, 2),
            now=now,
        )
        session.commit()
        assert (filled.streak, filled.days, filled.makeup) == (3, 3, True)
        with pytest.raises(Problem) as no_more:
            make_up(
                session,
                community=community,
                challenge_id=chid,
                member_id=bob,
                day=date(2026, 11, 1),
                now=now,
            )
        assert no_more.value.slug == "already-checked-in-today"
        session.rollback()
        make_up(
            session,
            community=community,
            challenge_id=chid,
            member_id=bob,
            day=date(2026, 11, 2),
            now=now,
        )
        session.commit()
        with pytest.raises(Problem) as spent:
            make_up(
                session,
                community=community,
                challenge_id=chid,
                member_id=bob,
                day=date(2026, 11, 3),
                now=now,
            )
        assert spent.value.slug == "no-makeup-cards"
        session.rollback()
    done = _check_in(events, cid, chid, ann, "2026-11-04T03:00:00+00:00")
    assert (done.days, done.streak) == (4, 4)

    board = events.get(f"/v1/communities/{cid}/challenges/{chid}/leaderboard").json()["data"]
    assert [(e["rank"], e["member_id"], e["days"], e["completed"]) for e in board] == [
        (1, ann, 4, True),
        (2, bob, 2, False),
    ]
    record = events.get(f"/v1/communities/{cid}/challenges/{chid}/participants/{ann}").json()
    assert record["tiers_reached"] == ["坚持3天", "全勤"] and record["makeups_left"] == 0

    published = events.published(expect=9)
    tiers = of_type(published, "challenge_tier_reached")
    assert [(e["member_id"], e["tier"], e["points"]) for e in tiers] == [
        (ann, "坚持3天", 30),
        (ann, "全勤", 100),
    ]
    assert [e["member_id"] for e in of_type(published, "challenge_completed")] == [ann]


def test_bots_push_check_ins_and_hear_refusals(events: EventsApi) -> None:
    cid = events.community(timezone="Asia/Shanghai")
    events.group(cid, external_id="wx_g")
    ann = events.member(cid, external_id="wx_ann")
    today = datetime.now(UTC)
    day = local_day(today, "Asia/Shanghai").isoformat()
    chid = _challenge(events, cid, day, day)
    for _ in range(2):  # the second push on the same day is refused
        events.publish(
            CheckInPushed(
                platform="wechat",
                group_external_id="wx_g",
                sender_external_id="wx_ann",
                occurred_at=today,
                challenge_id=chid,
                text="今日读完第三章",
            ),
            community_id=None,
        )
    path = f"/v1/communities/{cid}/challenges/{chid}/participants/{ann}"
    assert eventually(lambda: events.get(path).json()["days"] == 1)
    published = events.published(expect=3)
    assert [e["member_id"] for e in of_type(published, "check_in_recorded")] == [ann]
    refused = eventually(lambda: of_type(events.published(expect=3), "inbound_request_refused"))
    assert [(e["request"], e["reason"]) for e in refused] == [
        ("check_in", "already-checked-in-today")
    ]
