"""Temporary groups that activities ask for (`activity.temporary_group_requested`), on real
Postgres and Kafka: one group per activity however often it is asked for, announced by
`group.created` and answered by `group.activity_group_created`; requests members cannot
satisfy are ignored, and a community unknown in the event's workspace is dead-lettered at once."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.contracts import TemporaryGroupRequested, dead_letter_topic
from tests.integration.common.conftest import read_topic
from tests.integration.conftest import Outbox
from tests.integration.members.conftest import MembersApi, eventually

pytestmark = pytest.mark.integration


def _request(community_id: str, activity_id: str, **fields: Any) -> TemporaryGroupRequested:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "activity_id": activity_id,
        "community_id": community_id,
        "platform": "wechat",
        "name": "夜话会 · 临时群",
        "capacity": 80,
        "dissolve_at": now + timedelta(days=2),
        "requested_at": now,
    }
    return TemporaryGroupRequested(**(values | fields))


def _temporary_groups(members: MembersApi, community_id: str) -> list[dict[str, Any]]:
    page = members.get(f"/v1/communities/{community_id}/groups", params={"kind": "temporary"})
    assert page.status_code == 200, page.text
    return page.json()["data"]  # type: ignore[no-any-return]


def _group_of(members: MembersApi, community_id: str, activity_id: str) -> dict[str, Any] | None:
    found = [g for g in _temporary_groups(members, community_id) if g["activity_id"] == activity_id]
    return found[0] if found else None


def test_an_activity_gets_one_temporary_group_however_often_it_asks(
    members: MembersApi, outbox: Outbox
) -> None:
    cid = members.community()["id"]
    request = _request(cid, "act_night")
    members.publish(request, community_id=cid, subject="act_night")
    group = eventually(lambda: _group_of(members, cid, "act_night"))
    assert group, "no group was made"
    assert (group["kind"], group["state"], group["platform"]) == ("temporary", "filling", "wechat")
    assert (group["name"], group["capacity"], group["external_id"]) == (
        "夜话会 · 临时群",
        80,
        "activity:act_night",
    )
    assert datetime.fromisoformat(group["dissolve_at"]) == request.dissolve_at

    # The same request again under a new event id, and the activity asking for another
    # platform's group: still one group.
    members.publish(request, community_id=cid, subject="act_night")
    members.publish(request.model_copy(update={"platform": "qq"}), community_id=cid)
    # A later activity's request, without a capacity: the platform's default. When its group
    # is there the consumer is past the repeats.
    members.publish(_request(cid, "act_later", capacity=None, platform="qq"), community_id=cid)
    later = eventually(lambda: _group_of(members, cid, "act_later"))
    assert later and later["capacity"] == 2000  # QQ groups hold up to 2000 (rule 2)
    assert sorted(g["activity_id"] for g in _temporary_groups(members, cid)) == [
        "act_later",
        "act_night",
    ]

    created = [e for e in outbox.events("io.qunyun.group.created.v1") if e["kind"] == "temporary"]
    answers = outbox.events("io.qunyun.group.activity_group_created.v1")
    assert [e["group_id"] for e in created] == [group["id"], later["id"]]
    assert [(a["activity_id"], a["group_id"]) for a in answers] == [
        ("act_night", group["id"]),
        ("act_later", later["id"]),
    ]
    assert answers[0]["external_id"] == "activity:act_night"
    # group.created comes before its answer, so others know the group when they link it.
    types = outbox.types()
    assert types.index("io.qunyun.group.created.v1") < types.index(
        "io.qunyun.group.activity_group_created.v1"
    )


def test_requests_members_cannot_satisfy_are_ignored(members: MembersApi, outbox: Outbox) -> None:
    cid = members.community()["id"]
    past = datetime.now(UTC) - timedelta(hours=1)
    members.publish(_request(cid, "act_line", platform="line"), community_id=cid)
    members.publish(_request(cid, "act_over", dissolve_at=past), community_id=cid)
    members.publish(_request(cid, "act_big", platform="wechat", capacity=0), community_id=cid)
    members.publish(_request(cid, "act_ok", name="x" * 300), community_id=cid)
    ok = eventually(lambda: _group_of(members, cid, "act_ok"))
    assert ok and ok["name"] == "x" * 120  # a long title is cut to a group name's length
    assert [g["activity_id"] for g in _temporary_groups(members, cid)] == ["act_ok"]
    answers = outbox.events("io.qunyun.group.activity_group_created.v1")
    assert [a["activity_id"] for a in answers] == ["act_ok"]


def test_a_community_unknown_in_the_workspace_is_dead_lettered_at_once(
    members: MembersApi, kafka_bootstrap: str
) -> None:
    cid = members.community()["id"]
    stranger = members.publish(_request("cmt_nowhere", "act_1"), community_id="cmt_nowhere")
    other_tenant = members.publish(_request(cid, "act_2"), community_id=cid, workspace="ws_other")
    topic = members.settings.kafka_topic_prefix + TemporaryGroupRequested.topic
    dead = read_topic(kafka_bootstrap, dead_letter_topic(topic), expect=2)
    headers = [dict(r.headers) for r in dead]
    assert sorted(h["ce_id"].decode() for h in headers) == sorted([stranger, other_tenant])
    for h in headers:
        assert h["qunyun_dlq_attempts"] == b"1"  # not retried: retrying cannot help
        assert b"Unprocessable" in h["qunyun_dlq_error"]
    assert _temporary_groups(members, cid) == []
