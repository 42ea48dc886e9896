"""The lifecycle (社群链条) on the real broker and database: automatic rules, purchases,
feedback, overrides with their history, and the funnel."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.contracts import FeedbackGiven
from tests.integration.conftest import Outbox
from tests.integration.members.activity_support import (
    add_group,
    message,
    say,
    say_all,
    settle,
)
from tests.integration.members.conftest import MembersApi, eventually

pytestmark = pytest.mark.integration

STAGE_CHANGED = "io.qunyun.member.stage_changed.v1"


def _path(community: dict[str, Any], member: dict[str, Any], tail: str = "") -> str:
    return f"/v1/communities/{community['id']}/members/{member['id']}{tail}"


def _stage(members: MembersApi, community: dict[str, Any], member: dict[str, Any]) -> str:
    return members.get(_path(community, member)).json()["stage"]


def _history(
    members: MembersApi, community: dict[str, Any], member: dict[str, Any]
) -> list[tuple[str, ...]]:
    return [
        (c["from_stage"], c["to_stage"], c["reason"], c["actor"])
        for c in members.get(_path(community, member, "/stages")).json()["data"]
    ]


def test_the_first_message_makes_a_member_communicating(
    members: MembersApi, outbox: Outbox
) -> None:
    community = members.community()
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_first")
    say(members, group, "wx_first", "你好")
    say(members, group, "wx_first", "又是我")
    assert _history(members, community, member) == [
        ("joined", "communicating", "first message", "system")
    ]
    assert any(e["member_id"] == member["id"] for e in outbox.events(STAGE_CHANGED))


def test_enough_messages_in_the_first_days_make_a_member_favourable(members: MembersApi) -> None:
    community = members.community(
        settings={"lifecycle": {"favourable_messages_in_first_7_days": 3}}
    )
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_keen")
    say_all(members, [message(group, "wx_keen", f"{n}") for n in range(2)])
    assert _stage(members, community, member) == "communicating"
    say(members, group, "wx_keen", "第三条")
    assert _stage(members, community, member) == "favourable"
    assert _history(members, community, member)[-1][2] == "3 messages in the first 7 days"


def test_active_days_move_a_member_straight_to_active(members: MembersApi) -> None:
    community = members.community(
        settings={"lifecycle": {"active_days": 3, "active_window_days": 10}}
    )
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_regular")
    now = datetime.now(UTC)
    say_all(members, [message(group, "wx_regular", at=now - timedelta(days=d)) for d in (4, 2)])
    assert _stage(members, community, member) == "communicating"
    say(members, group, "wx_regular", "今天也来了", at=now)
    assert _stage(members, community, member) == "active"
    # favourable was never shown, so never recorded: one jump, its rule named.
    assert [h[:3] for h in _history(members, community, member)] == [
        ("joined", "communicating", "first message"),
        ("communicating", "active", "active on 3 days in the last 10 days"),
    ]


def test_days_outside_the_window_do_not_make_a_member_active(members: MembersApi) -> None:
    community = members.community(
        settings={"lifecycle": {"active_days": 3, "active_window_days": 5}}
    )
    group = add_group(members, community["id"])
    member = members.join(community["id"], "wx_rare")
    now = datetime.now(UTC)
    say_all(members, [message(group, "wx_rare", at=now - timedelta(days=d)) for d in (20, 10, 0)])
    assert _stage(members, community, member) == "communicating"


def test_a_purchase_makes_a_member_paying_once(members: MembersApi, outbox: Outbox) -> None:
    community = members.community()
    member = members.join(community["id"])
    lower = {"amount": "199.00", "currency": "cny", "reference": "order-0"}
    assert members.post(_path(community, member, "/purchases"), json=lower).status_code == 422
    body = {"amount": "199.00", "currency": "CNY", "reference": "order-1"}
    first = members.post(
        _path(community, member, "/purchases"), json=body, headers={"Idempotency-Key": "p-1"}
    )
    assert first.status_code == 201, first.text
    assert first.json()["currency"] == "CNY" and first.json()["amount"] == "199.0000"
    replay = members.post(
        _path(community, member, "/purchases"), json=body, headers={"Idempotency-Key": "p-1"}
    )
    assert replay.status_code == 201 and replay.json() == first.json()
    again = members.post(_path(community, member, "/purchases"), json=body)
    assert again.status_code == 409
    assert again.json()["purchase_id"] == first.json()["id"]
    assert _stage(members, community, member) == "paying"
    assert _history(members, community, member)[-1][:3] == ("joined", "paying", "purchase order-1")
    listed = members.get(_path(community, member, "/purchases")).json()
    assert [p["id"] for p in listed["data"]] == [first.json()["id"]]
    events = outbox.events("io.qunyun.member.purchase_recorded.v1")
    assert [(e["amount"], e["currency"]) for e in events] == [("199.0000", "CNY")]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "1.23456"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"currency": "RMB1"}, "currency"),
        ({"currency": "CN"}, "currency"),
        ({"currency": "元元元"}, "currency"),
        ({"reference": ""}, "reference"),
        ({"purchased_at": "2999-01-01T00:00:00Z"}, "purchased_at"),
        ({"purchased_at": "2025-01-01T00:00:00"}, "purchased_at"),
    ],
)
def test_a_bad_purchase_is_a_422_and_changes_nothing(
    members: MembersApi, change: dict[str, Any], field: str
) -> None:
    community = members.community()
    member = members.join(community["id"])
    body = {"amount": "10", "currency": "CNY", "reference": "r"} | change
    response = members.post(_path(community, member, "/purchases"), json=body)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert _stage(members, community, member) == "joined"
    assert members.get(_path(community, member, "/purchases")).json()["data"] == []


def test_a_purchase_never_moves_a_member_back(members: MembersApi) -> None:
    community = members.community()
    member = members.join(community["id"])
    members.post(_path(community, member, "/stage"), json={"stage": "referring", "reason": "KOL"})
    members.post(
        _path(community, member, "/purchases"),
        json={"amount": 9.9, "currency": "USD", "reference": "x-1"},
    )
    assert _stage(members, community, member) == "referring"


def test_feedback_makes_a_member_give_feedback(members: MembersApi) -> None:
    community = members.community()
    group = add_group(members, community["id"])
    member = members.join(community["id"])
    feedback = FeedbackGiven(
        member_id=member["id"],
        community_id=community["id"],
        activity_id="act_1",
        rating=5,
        comment="很棒",
        given_at=datetime.now(UTC),
    )
    unknown = feedback.model_copy(update={"member_id": "mbr_nobody"})
    members.publish(unknown, community_id=community["id"])
    members.publish(feedback, community_id=community["id"])
    assert eventually(lambda: _stage(members, community, member) == "feedback")
    assert _history(members, community, member)[-1][2] == "feedback on activity act_1"
    settle(members, group)  # the unknown member's feedback did not stop the consumer


def test_an_operator_overrides_with_a_reason_and_the_history_keeps_it(
    members: MembersApi,
) -> None:
    community = members.community()
    member = members.join(community["id"])
    path = _path(community, member, "/stage")
    assert members.post(path, json={"stage": "active"}).status_code == 422  # reason required
    assert members.post(path, json={"stage": "active", "reason": ""}).status_code == 422
    assert members.post(path, json={"stage": "vip", "reason": "x"}).status_code == 422
    moved = members.post(path, json={"stage": "active", "reason": "线下活跃"})
    assert moved.status_code == 201 and moved.json()["to_stage"] == "active"
    back = members.post(
        path, json={"stage": "joined", "reason": "误判"}, headers={"Idempotency-Key": "o-1"}
    )
    assert back.status_code == 201
    replay = members.post(
        path, json={"stage": "joined", "reason": "误判"}, headers={"Idempotency-Key": "o-1"}
    )
    assert replay.json() == back.json()
    same = members.post(path, json={"stage": "joined", "reason": "again"})
    assert same.status_code == 409 and same.json()["type"].endswith("/stage-unchanged")
    assert _history(members, community, member) == [
        ("joined", "active", "线下活跃", "api_key:key_test"),
        ("active", "joined", "误判", "api_key:key_test"),
    ]
    other = members.get(_path(community, member, "/stages"), workspace="ws_other")
    assert other.status_code == 404


def test_the_funnel_counts_current_members_by_stage(members: MembersApi) -> None:
    community = members.community()
    people = [members.join(community["id"]) for _ in range(6)]
    for person, stage in zip(people, ["communicating", "active", "active", "paying"], strict=False):
        members.post(_path(community, person, "/stage"), json={"stage": stage, "reason": "test"})
    members.post(_path(community, people[5], "/remove"))
    members.post(
        f"/v1/communities/{community['id']}/leads",
        json={"display_name": "潜在", "identities": [{"platform": "qq", "external_id": "lead"}]},
    )
    funnel = members.get(f"/v1/communities/{community['id']}/lifecycle/funnel").json()
    rows = {s["stage"]: (s["members"], s["reached"], s["conversion"]) for s in funnel["stages"]}
    assert funnel["total"] == 6  # the removed member is not counted; the lead is
    assert rows["aware"] == (1, 6, None)
    assert rows["joined"] == (1, 5, round(5 / 6, 4))
    assert rows["communicating"] == (1, 4, 0.8)
    assert rows["favourable"] == (0, 3, 0.75)
    assert rows["active"] == (2, 3, 1.0)
    assert rows["paying"] == (1, 1, round(1 / 3, 4))
    assert rows["feedback"] == (0, 0, 0.0)
    assert rows["referring"] == (0, 0, None)  # nobody to convert from
    assert (
        members.get(
            f"/v1/communities/{community['id']}/lifecycle/funnel", workspace="ws_other"
        ).status_code
        == 404
    )
