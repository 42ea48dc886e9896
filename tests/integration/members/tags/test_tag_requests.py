"""Tags that content's playbooks ask for (`content.member_tag_requested`), on real Postgres and
Kafka: the member is tagged once however often it is asked, a tag the community lacks is
created, strangers and impossible names are ignored, an unknown community is dead-lettered."""

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from services.common.contracts import MemberTagRequested, dead_letter_topic
from tests.integration.common.conftest import read_topic
from tests.integration.conftest import Outbox
from tests.integration.members.conftest import MembersApi, eventually

pytestmark = pytest.mark.integration


def _request(community_id: str, member_id: str, tag_name: str, **fields: Any) -> MemberTagRequested:
    values: dict[str, Any] = {
        "member_id": member_id,
        "community_id": community_id,
        "tag_name": tag_name,
        "playbook_id": "sop_welcome",
        "run_id": "run_1",
        "requested_at": datetime.now(UTC),
    }
    return MemberTagRequested(**(values | fields))


def _tags(members: MembersApi, community_id: str, member_id: str) -> list[tuple[str, str]]:
    response = members.get(f"/v1/communities/{community_id}/members/{member_id}/tags")
    assert response.status_code == 200, response.text
    return sorted((t["name"], t["category"]) for t in response.json()["data"])


def test_a_playbook_tags_a_member_once_creating_the_tag_if_needed(
    members: MembersApi, outbox: Outbox
) -> None:
    cid = members.community()["id"]
    newcomer, other = members.join(cid)["id"], members.join(cid)["id"]
    members.make.tag(cid, "VIP", "spending")
    vip = _request(cid, newcomer, "VIP")
    members.publish(vip, community_id=cid, subject=newcomer)
    members.publish(_request(cid, newcomer, " 新人营结业 "), community_id=cid)
    assert eventually(lambda: len(_tags(members, cid, newcomer)) == 2)
    # The existing tag keeps its category; the new one is the operator's own (custom).
    assert _tags(members, cid, newcomer) == [("VIP", "spending"), ("新人营结业", "custom")]

    # Asked again under a new event id: nothing changes, nothing is announced again.
    members.publish(vip.model_copy(update={"run_id": "run_2"}), community_id=cid)
    members.publish(_request(cid, other, "VIP"), community_id=cid)  # the marker
    assert eventually(lambda: _tags(members, cid, other) == [("VIP", "spending")])
    assert _tags(members, cid, newcomer) == [("VIP", "spending"), ("新人营结业", "custom")]
    tagged = outbox.events("io.qunyun.member.tagged.v1")
    assert sorted((t["member_id"], t["tag_name"]) for t in tagged) == sorted(
        [(newcomer, "VIP"), (newcomer, "新人营结业"), (other, "VIP")]
    )
    with members.engine.connect() as conn:
        by = conn.execute(
            sa.text("SELECT DISTINCT tagged_by FROM member_tag WHERE community_id = :c"), {"c": cid}
        ).scalars()
        assert list(by) == ["playbook:sop_welcome"]


def test_strangers_and_impossible_tag_names_are_ignored(members: MembersApi) -> None:
    cid = members.community()["id"]
    elsewhere = members.community()["id"]
    member = members.join(cid)["id"]
    outsider = members.join(elsewhere)["id"]
    members.publish(_request(cid, "mbr_nobody", "幽灵"), community_id=cid)
    members.publish(_request(cid, outsider, "外人"), community_id=cid)  # another community's
    members.publish(_request(cid, member, "x" * 41), community_id=cid)
    members.publish(_request(cid, member, "   "), community_id=cid)
    members.publish(_request(cid, member, "done"), community_id=cid)  # the marker
    assert eventually(lambda: _tags(members, cid, member) == [("done", "custom")])
    assert _tags(members, elsewhere, outsider) == []
    names = [t["name"] for t in members.get(f"/v1/communities/{cid}/tags").json()["data"]]
    assert names == ["done"]  # no tag was made for the requests that were ignored


def test_a_community_unknown_in_the_workspace_is_dead_lettered_at_once(
    members: MembersApi, kafka_bootstrap: str
) -> None:
    cid = members.community()["id"]
    member = members.join(cid)["id"]
    stray = members.publish(_request(cid, member, "VIP"), community_id=cid, workspace="ws_other")
    topic = members.settings.kafka_topic_prefix + MemberTagRequested.topic
    [dead] = read_topic(kafka_bootstrap, dead_letter_topic(topic), expect=1)
    headers = dict(dead.headers)
    assert headers["ce_id"].decode() == stray
    assert (headers["qunyun_dlq_attempts"], headers["qunyun_dlq_consumer"]) == (b"1", b"members")
    assert _tags(members, cid, member) == []
