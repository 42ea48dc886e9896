"""Moderation on the real broker and database: detectors end to end, ad windows on the
community's clock, exempt roles, the strike ladder and its expiry, dismissal, idempotency."""

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.conftest import Outbox
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

VIOLATION = "io.qunyun.moderation.violation_recorded.v1"
WARN_ONLY = {"ladder": [{"action": "warn"}]}


def _cases(members: MembersApi, community: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    response = members.get(
        f"/v1/communities/{community['id']}/moderation/cases", params={"limit": 200, **params}
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _member(members: MembersApi, community: dict[str, Any], member: dict[str, Any]) -> Any:
    return members.get(f"/v1/communities/{community['id']}/members/{member['id']}").json()


def test_each_detector_opens_a_case_with_its_evidence(members: MembersApi) -> None:
    community = members.community(settings={"moderation": {**WARN_ONLY, "keywords": ["代购"]}})
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_spammer")
    sent = [
        message(group, "wx_spammer", "今天聊聊读书"),
        message(group, "wx_spammer", "专业 代 购 欧洲直邮"),
        message(group, "wx_spammer", "有需要打 138-1234-5678"),
        message(group, "wx_spammer", "加我微信：deal_2025"),
        message(group, "wx_spammer", "详情见 https://shop.example.com/x"),
        message(group, "wx_spammer", "[图片]", flags=["qr_code"]),
        message(group, "wx_spammer", "[名片]", flags=["contact_card"]),
        message(group, "wx_spammer", "[小程序]", flags=["mini_program", "image"]),
    ]
    say_all(members, sent)
    cases = _cases(members, community, member_id=member["id"])
    by_message = {c["message_external_id"]: c for c in cases}
    assert sent[0].message_external_id not in by_message  # a clean message has no case
    found = [
        [(m["kind"], m["match"]) for m in by_message[s.message_external_id]["matches"]]
        for s in sent[1:]
    ]
    assert found == [
        [("keyword", "代购")],
        [("phone_number", "138-1234-5678")],
        [("wechat_id", "deal_2025")],
        [("link", "https://shop.example.com/x")],
        [("qr_code", "qr_code")],
        [("contact_card", "contact_card")],
        [("mini_program", "mini_program")],
    ]
    case = by_message[sent[2].message_external_id]
    assert case["excerpt"] == "有需要打 138-1234-5678" and case["group_id"] == group["id"]
    assert case["action"] == "warn" and case["status"] == "counted"
    one = members.get(f"/v1/communities/{community['id']}/moderation/cases/{case['id']}")
    assert one.json() == case


def _shanghai_noon_days_ago(days: int) -> datetime:
    zone = ZoneInfo("Asia/Shanghai")
    day = (datetime.now(zone) - timedelta(days=days)).date()
    return datetime.combine(day, time(12), tzinfo=zone).astimezone(UTC)


def test_ads_are_allowed_in_the_weekly_window_on_the_communitys_clock(
    members: MembersApi,
) -> None:
    noon = _shanghai_noon_days_ago(2)  # 04:00 UTC: a UTC reading of the window would miss it
    window = {
        "weekday": noon.astimezone(ZoneInfo("Asia/Shanghai")).weekday(),
        "start": "11:00",
        "end": "13:00",
    }
    community = members.community(
        timezone="Asia/Shanghai", settings={"moderation": {**WARN_ONLY, "ad_windows": [window]}}
    )
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_flash")
    inside = say(members, group, "wx_flash", "资源快闪：加我微信 flash_sale1", at=noon)
    outside = say(members, group, "wx_flash", "加我微信 flash_sale1", at=noon + timedelta(hours=2))
    ids = [c["message_external_id"] for c in _cases(members, community, member_id=member["id"])]
    assert ids == [outside.message_external_id]
    assert inside.message_external_id not in ids


def test_exempt_roles_may_post_what_members_may_not(members: MembersApi) -> None:
    community = members.community(settings={"moderation": WARN_ONLY})
    group = add_group(members, community["id"])
    admin = members.join(community["id"], "wx_admin", role="admin")
    kol = members.join(community["id"], "wx_kol", role="kol")
    say_all(
        members,
        [
            message(group, "wx_admin", "报名链接 https://example.com/signup"),
            message(group, "wx_kol", "报名链接 https://example.com/signup"),
        ],
    )
    assert _cases(members, community, member_id=admin["id"]) == []
    assert len(_cases(members, community, member_id=kol["id"])) == 1


def test_offenders_climb_the_ladder_warn_mute_remove_ban(
    members: MembersApi, outbox: Outbox
) -> None:
    community = members.community()
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_repeat")
    actions = []
    for n in range(5):
        say(members, group, "wx_repeat", f"加我微信 repeat_{n}abc")
        actions.append(_cases(members, community, member_id=member["id"])[-1]["action"])
        if n == 1:
            muted = _member(members, community, member)
            until = datetime.fromisoformat(muted["muted_until"])
            assert muted["status"] == "muted"
            assert abs(until - (datetime.now(UTC) + timedelta(hours=24))) < timedelta(minutes=1)
    assert actions == ["warn", "mute", "remove", "ban", "ban"]  # the last step repeats
    assert _member(members, community, member)["status"] == "banned"
    history = members.get(
        f"/v1/communities/{community['id']}/members/{member['id']}/history"
    ).json()["data"]
    assert [(h["from_status"], h["to_status"], h["actor"]) for h in history] == [
        ("active", "muted", "system:moderation"),
        ("muted", "removed", "system:moderation"),
        ("removed", "banned", "system:moderation"),
    ]
    events = [e for e in outbox.events(VIOLATION) if e["member_id"] == member["id"]]
    assert [(e["action"], e["active_strikes"]) for e in events] == [
        ("warn", 1),
        ("mute", 2),
        ("remove", 3),
        ("ban", 4),
        ("ban", 5),
    ]
    assert events[0]["group_external_id"] == group["external_id"]
    assert events[0]["identities"] == [{"platform": "wechat", "external_id": "wx_repeat"}]


def test_expired_strikes_do_not_count(members: MembersApi) -> None:
    community = members.community(settings={"moderation": {"strike_expiry_days": 1}})
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_reformed")
    now = datetime.now(UTC)
    say(members, group, "wx_reformed", "加我微信 old_offence", at=now - timedelta(days=3))
    say(members, group, "wx_reformed", "加我微信 new_offence", at=now - timedelta(minutes=2))
    say(members, group, "wx_reformed", "加我微信 again_offence", at=now)
    cases = _cases(members, community, member_id=member["id"])
    assert [(c["strikes_before"], c["action"]) for c in cases] == [
        (0, "warn"),
        (0, "warn"),
        (1, "mute"),
    ]


def test_a_dismissed_case_no_longer_counts(members: MembersApi, outbox: Outbox) -> None:
    community = members.community()
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_misread")
    say(members, group, "wx_misread", "我的作品集 https://example.com/portfolio")
    case = _cases(members, community, member_id=member["id"])[0]
    path = f"/v1/communities/{community['id']}/moderation/cases/{case['id']}/dismiss"
    dismissed = members.post(path, json={"reason": "作品分享，不是广告"})
    assert dismissed.status_code == 200
    assert dismissed.json()["status"] == "dismissed"
    assert dismissed.json()["dismissed_by"] == "api_key:key_test"
    assert members.post(path).json() == dismissed.json()  # twice is once
    say(members, group, "wx_misread", "再发一次 https://example.com/portfolio")
    latest = _cases(members, community, member_id=member["id"])[-1]
    assert (latest["strikes_before"], latest["action"]) == (0, "warn")
    assert len(outbox.events("io.qunyun.moderation.case_dismissed.v1")) == 1
    assert _cases(members, community, status="dismissed") == [dismissed.json()]
    assert members.post(path, workspace="ws_other").status_code == 404
    missing = f"/v1/communities/{community['id']}/moderation/cases/case_nope/dismiss"
    assert members.post(missing).status_code == 404


def test_a_redelivered_message_makes_one_case(members: MembersApi, outbox: Outbox) -> None:
    community = members.community()
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_twice")
    ad = message(group, "wx_twice", "加我微信 twice_ads")
    publish_twice(members, ad)
    members.publish(ad, community_id=None)  # the bot pushed it again: a new event
    settle(members, group)
    cases = _cases(members, community, member_id=member["id"])
    assert [c["action"] for c in cases] == ["warn"]
    assert len([e for e in outbox.events(VIOLATION) if e["member_id"] == member["id"]]) == 1


def test_cases_list_in_pages_and_only_the_callers(members: MembersApi) -> None:
    community = members.community(settings={"moderation": WARN_ONLY})
    group = add_group(members, community["id"])
    say_all(members, [message(group, f"wx_{n}", "加我微信 pager_123") for n in range(3)])
    path = f"/v1/communities/{community['id']}/moderation/cases"
    first = members.get(path, params={"limit": 2}).json()
    second = members.get(path, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(first["data"]) == 2 and len(second["data"]) == 1
    assert second["next_cursor"] is None
    assert members.get(path, workspace="ws_other").status_code == 404


def test_the_policy_can_be_tried_without_effect(members: MembersApi) -> None:
    community = members.community(settings={"moderation": {"keywords": ["刷单"]}})
    path = f"/v1/communities/{community['id']}/moderation/check"
    verdict = members.post(path, json={"text": "兼职刷单 日结", "flags": ["qr_code"]}).json()
    assert verdict == {
        "violation": True,
        "matches": [{"kind": "keyword", "match": "刷单"}, {"kind": "qr_code", "match": "qr_code"}],
    }
    assert members.post(path, json={"text": "刷单", "role": "owner"}).json()["violation"] is False
    assert _cases(members, community) == []


def test_bad_moderation_settings_are_refused(members: MembersApi) -> None:
    community = members.community()
    path = f"/v1/communities/{community['id']}/settings"
    bad = members.patch(path, json={"moderation": {"ladder": [{"action": "mute"}]}})
    assert bad.status_code == 422
    bad_window = {"weekday": 9, "start": "10:00", "end": "11:00"}
    assert members.patch(path, json={"moderation": {"ad_windows": [bad_window]}}).status_code == 422
