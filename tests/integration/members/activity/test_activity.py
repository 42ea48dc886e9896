"""Chat activity on the real broker and database: counts, days on the community's clock,
message points under the daily cap, and one effect per message however often delivered."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from services.common.periodic import run_job_once
from services.members.app import JOBS
from tests.integration.members.activity_support import (
    add_group,
    message,
    publish_twice,
    say,
    say_all,
    settle,
)
from tests.integration.members.conftest import MembersApi

pytestmark = pytest.mark.integration


def _member(members: MembersApi, community: dict[str, Any], member_id: str) -> dict[str, Any]:
    return members.get(f"/v1/communities/{community['id']}/members/{member_id}").json()


def _days(members: MembersApi, member_id: str) -> dict[str, int]:
    with members.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT day, messages FROM member_activity_day WHERE member_id = :m"),
            {"m": member_id},
        ).all()
    return {day.isoformat(): n for day, n in rows}


def _by_identity(members: MembersApi, community: dict[str, Any], external_id: str) -> Any:
    everyone = members.get(f"/v1/communities/{community['id']}/members").json()["data"]
    return next(
        (m for m in everyone if any(i["external_id"] == external_id for i in m["identities"])),
        None,
    )


def test_messages_count_for_the_member_and_the_day(members: MembersApi) -> None:
    community = members.community()
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_talker")
    base = datetime.now(UTC) - timedelta(minutes=10)
    say_all(
        members,
        [message(group, "wx_talker", f"第{n}条", at=base + timedelta(minutes=n)) for n in range(3)],
    )
    after = _member(members, community, member["id"])
    assert after["message_count"] == 3
    assert datetime.fromisoformat(after["last_active_at"]) == base + timedelta(minutes=2)
    assert after["points"] == 3  # one a message by default
    local_today = (base + timedelta(minutes=2)).astimezone(ZoneInfo("Asia/Shanghai"))
    assert _days(members, member["id"]) == {local_today.date().isoformat(): 3}


def test_an_unknown_sender_in_a_known_group_becomes_a_member_and_unknown_groups_are_ignored(
    members: MembersApi,
) -> None:
    community = members.community()
    group = add_group(members, community["id"])
    stranger_group = {**group, "external_id": "not-registered@chatroom"}
    members.publish(message(stranger_group, "wx_ghost", "hello"), community_id=None)
    say(members, group, "wx_newcomer", "我是新来的", display_name="小王")
    newcomer = _by_identity(members, community, "wx_newcomer")
    assert newcomer["display_name"] == "小王" and newcomer["status"] == "active"
    assert newcomer["message_count"] == 1 and newcomer["joined_at"]
    assert _by_identity(members, community, "wx_ghost") is None


def test_a_late_message_never_moves_last_activity_back(members: MembersApi) -> None:
    community = members.community()
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_late")
    recent = datetime.now(UTC) - timedelta(minutes=1)
    say(members, group, "wx_late", at=recent)
    say(members, group, "wx_late", at=recent - timedelta(hours=5))
    after = _member(members, community, member["id"])
    assert datetime.fromisoformat(after["last_active_at"]) == recent
    assert after["message_count"] == 2


def test_a_message_from_the_future_counts_as_now(members: MembersApi) -> None:
    community = members.community()
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_fast_clock")
    say(members, group, "wx_fast_clock", at=datetime.now(UTC) + timedelta(days=3))
    after = _member(members, community, member["id"])
    assert datetime.fromisoformat(after["last_active_at"]) <= datetime.now(UTC)


def test_days_are_the_communitys_across_midnight(members: MembersApi) -> None:
    community = members.community(timezone="Asia/Shanghai")
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_night_owl")
    # 15:59 and 16:01 UTC are 23:59 and 00:01 in Shanghai: two days there, one in UTC.
    day = (datetime.now(UTC) - timedelta(days=3)).replace(hour=15, minute=59, second=0)
    say_all(
        members,
        [
            message(group, "wx_night_owl", "晚安", at=day),
            message(group, "wx_night_owl", "早安", at=day + timedelta(minutes=2)),
        ],
    )
    local = (day + timedelta(hours=8)).date()
    assert _days(members, member["id"]) == {
        local.isoformat(): 1,
        (local + timedelta(days=1)).isoformat(): 1,
    }


def test_message_points_stop_at_the_daily_cap_of_the_local_day(members: MembersApi) -> None:
    community = members.community(
        timezone="Asia/Shanghai", settings={"points": {"message": 2, "message_daily_cap": 5}}
    )
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_chatty")
    # 16:30 UTC .. 15:30 UTC next day is one Shanghai day (00:30 .. 23:30).
    start = (datetime.now(UTC) - timedelta(days=4)).replace(hour=16, minute=30, second=0)
    same_day = [start + timedelta(hours=h) for h in (0, 5, 10, 20, 23)]
    say_all(members, [message(group, "wx_chatty", "聊", at=t) for t in same_day])
    assert _member(members, community, member["id"])["points"] == 5  # 2 + 2 + 1, then nothing
    say(members, group, "wx_chatty", "第二天", at=start + timedelta(hours=24))
    assert _member(members, community, member["id"])["points"] == 7
    with members.engine.connect() as conn:
        amounts = conn.execute(
            sa.text(
                "SELECT amount FROM points_entry WHERE member_id = :m AND reason = 'message'"
                " ORDER BY created_at"
            ),
            {"m": member["id"]},
        ).scalars()
        assert list(amounts) == [2, 2, 1, 2]


def test_a_redelivered_message_has_one_effect(members: MembersApi) -> None:
    community = members.community()
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_echo")
    once = message(group, "wx_echo", "只说一次")
    publish_twice(members, once)  # the same event twice
    members.publish(once, community_id=None)  # the same message in another event
    settle(members, group)
    after = _member(members, community, member["id"])
    assert after["message_count"] == 1 and after["points"] == 1
    assert sum(_days(members, member["id"]).values()) == 1


def test_removed_and_banned_members_messages_count_but_earn_nothing(members: MembersApi) -> None:
    community = members.community()
    group = add_group(members, community["id"])
    removed = members.join(community["id"], "wx_gone")
    banned = members.join(community["id"], "wx_banned")
    base = f"/v1/communities/{community['id']}/members"
    members.post(f"{base}/{removed['id']}/remove")
    members.post(f"{base}/{banned['id']}/ban")
    say_all(members, [message(group, "wx_gone", "还在"), message(group, "wx_banned", "我也在")])
    for who in (removed, banned):
        after = _member(members, community, who["id"])
        assert after["message_count"] == 1 and after["last_active_at"]
        assert after["points"] == 0 and after["stage"] == "joined"


def test_a_message_moderation_acts_on_earns_nothing(members: MembersApi) -> None:
    community = members.community()
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_seller")
    say(members, group, "wx_seller", "加我微信 seller888 有货")
    after = _member(members, community, member["id"])
    assert after["message_count"] == 1 and after["points"] == 0


def test_merging_adds_up_activity_days(members: MembersApi) -> None:
    community = members.community()
    group = add_group(members, community["id"])
    a = members.join(community["id"], "wx_one")
    b = members.join(community["id"], "qq_one", platform="qq")
    qq_group = add_group(members, community["id"], platform="qq")
    say(members, group, "wx_one")
    say(members, qq_group, "qq_one")
    merged = members.post(
        f"/v1/communities/{community['id']}/members/{a['id']}/merge", json={"member_id": b["id"]}
    )
    assert merged.status_code == 200, merged.text
    assert sum(_days(members, a["id"]).values()) == 2 and _days(members, b["id"]) == {}


def test_the_record_of_old_messages_is_forgotten_after_ninety_days(members: MembersApi) -> None:
    community = members.community()
    group = add_group(members, community["id"])
    now = datetime.now(UTC)
    say_all(
        members,
        [
            message(group, "wx_old", "很久以前", at=now - timedelta(days=91)),
            message(group, "wx_old", "不久前", at=now - timedelta(days=89)),
        ],
    )
    job = next(j for j in JOBS if j.name == "forget-old-messages")
    assert run_job_once(members.engine, job, now=now) == 1
    with members.engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT count(*) FROM activity_message")).scalar_one()
    assert kept == 1
