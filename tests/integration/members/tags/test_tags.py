"""Tags: creating, listing, deleting, bulk tagging and untagging, tagging by name from other
sub-domains, and tags surviving a merge; on real Postgres."""

from typing import Any

import pytest

from services.members.tags.service import tag_member
from tests.integration.conftest import Outbox
from tests.integration.members.conftest import MembersApi

pytestmark = pytest.mark.integration


def _tag(members: MembersApi, community_id: str, name: str, category: str = "custom") -> str:
    return members.make.tag(community_id, name, category)["id"]  # type: ignore[no-any-return]


def _names(members: MembersApi, community_id: str, member_id: str) -> list[str]:
    response = members.get(f"/v1/communities/{community_id}/members/{member_id}/tags")
    assert response.status_code == 200, response.text
    return [t["name"] for t in response.json()["data"]]


def test_tags_are_created_listed_by_category_and_unique_by_name(members: MembersApi) -> None:
    community = members.community()
    path = f"/v1/communities/{community['id']}/tags"
    vip = _tag(members, community["id"], "VIP", "spending")
    city = _tag(members, community["id"], " 北京 ", "location")

    again = members.post(path, json={"name": "VIP", "category": "custom"})
    assert again.status_code == 409
    assert again.json()["tag_id"] == vip
    listed = members.get(path).json()
    assert [(t["id"], t["name"]) for t in listed["data"]] == [(vip, "VIP"), (city, "北京")]
    assert [t["id"] for t in members.get(path, params={"category": "location"}).json()["data"]] == [
        city
    ]
    # The same name in another community is another tag.
    _tag(members, members.community()["id"], "VIP")


def test_a_members_tags_come_in_pages_by_category_then_name(members: MembersApi) -> None:
    cid = members.community()["id"]
    member = members.join(cid)["id"]
    tags = [
        _tag(members, cid, name, category)
        for name, category in (("b", "custom"), ("a", "custom"), ("上海", "location"))
    ]
    members.post(f"/v1/communities/{cid}/tags/{tags[0]}/members", json={"member_ids": [member]})
    members.post(f"/v1/communities/{cid}/tags/{tags[1]}/members", json={"member_ids": [member]})
    members.post(f"/v1/communities/{cid}/tags/{tags[2]}/members", json={"member_ids": [member]})
    path = f"/v1/communities/{cid}/members/{member}/tags"
    seen, cursor = [], None
    while True:
        page = members.get(path, params={"limit": 2} | ({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.text
        seen += [t["name"] for t in page.json()["data"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ["a", "b", "上海"]  # custom before location, then by name
    forged = members.get(path, params={"cursor": "not-a-cursor"})
    assert forged.status_code == 400 and forged.json()["type"].endswith("/invalid-cursor")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 41}, "name"),
        ({"name": "ok", "category": "zodiac"}, "category"),
    ],
)
def test_invalid_tags_are_a_422_naming_the_field(
    members: MembersApi, body: dict[str, Any], field: str
) -> None:
    community = members.community()
    response = members.post(f"/v1/communities/{community['id']}/tags", json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_bulk_tagging_is_idempotent_and_all_or_nothing(members: MembersApi, outbox: Outbox) -> None:
    community = members.community()
    cid = community["id"]
    tag = _tag(members, cid, "活跃")
    ann, bob, cat = (members.join(cid, display_name=n)["id"] for n in ("ann", "bob", "cat"))
    stranger = members.join(members.community()["id"])["id"]
    path = f"/v1/communities/{cid}/tags/{tag}/members"

    repeated = members.post(path, json={"member_ids": [ann, bob, ann]})
    assert repeated.status_code == 422 and repeated.json()["errors"][0]["field"] == "member_ids"
    first = members.post(path, json={"member_ids": [ann, bob]})
    assert first.json() == {"tag_id": tag, "changed": 2, "unchanged": 0}
    second = members.post(path, json={"member_ids": [bob, cat]})
    assert second.json() == {"tag_id": tag, "changed": 1, "unchanged": 1}

    refused = members.post(path, json={"member_ids": [ann, stranger, "mbr_nope"]})
    assert refused.status_code == 422
    assert refused.json()["member_ids"] == [stranger, "mbr_nope"]
    assert refused.json()["errors"][0]["field"] == "member_ids"
    untag_refused = members.post(path + "/remove", json={"member_ids": [ann, "mbr_nope"]})
    assert untag_refused.status_code == 422
    assert _names(members, cid, ann) == ["活跃"]

    removed = members.post(path + "/remove", json={"member_ids": [ann, bob]})
    assert removed.json() == {"tag_id": tag, "changed": 2, "unchanged": 0}
    assert members.delete(f"{path}/{cat}").json() == {"tag_id": tag, "changed": 1, "unchanged": 0}
    assert members.delete(f"{path}/{cat}").json()["changed"] == 0
    assert members.delete(f"{path}/mbr_nope").status_code == 404
    assert [_names(members, cid, m) for m in (ann, bob, cat)] == [[], [], []]

    types = [t for t in outbox.types() if "tag" in t]
    assert types.count("io.qunyun.member.tagged.v1") == 3
    assert types.count("io.qunyun.member.untagged.v1") == 3


@pytest.mark.parametrize("count", [0, 1001])
def test_bulk_tagging_takes_one_to_a_thousand_members(members: MembersApi, count: int) -> None:
    community = members.community()
    tag = _tag(members, community["id"], "t")
    response = members.post(
        f"/v1/communities/{community['id']}/tags/{tag}/members",
        json={"member_ids": [f"mbr_{n}" for n in range(count)]},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "member_ids"


def test_another_workspace_sees_none_of_it(members: MembersApi) -> None:
    community = members.community()
    cid = community["id"]
    tag = _tag(members, cid, "VIP")
    member = members.join(cid)["id"]
    members.post(f"/v1/communities/{cid}/tags/{tag}/members", json={"member_ids": [member]})
    other = {"workspace": "ws_other"}
    for response in (
        members.get(f"/v1/communities/{cid}/tags", **other),
        members.post(f"/v1/communities/{cid}/tags", json={"name": "x"}, **other),
        members.post(
            f"/v1/communities/{cid}/tags/{tag}/members", json={"member_ids": [member]}, **other
        ),
        members.delete(f"/v1/communities/{cid}/tags/{tag}", **other),
        members.get(f"/v1/communities/{cid}/members/{member}/tags", **other),
    ):
        assert response.status_code == 404, response.text
    # A tag of one community cannot be used in another of the same workspace either.
    elsewhere = members.community()["id"]
    assert (
        members.post(
            f"/v1/communities/{elsewhere}/tags/{tag}/members", json={"member_ids": [member]}
        ).status_code
        == 404
    )
    assert _names(members, cid, member) == ["VIP"]


def test_deleting_a_tag_takes_it_off_everyone_unless_a_segment_uses_it(
    members: MembersApi,
) -> None:
    community = members.community()
    cid = community["id"]
    kept, dropped = _tag(members, cid, "kept"), _tag(members, cid, "dropped")
    member = members.join(cid)["id"]
    for tag in (kept, dropped):
        members.post(f"/v1/communities/{cid}/tags/{tag}/members", json={"member_ids": [member]})
    segment = members.post(
        f"/v1/communities/{cid}/segments",
        json={"name": "not kept", "rules": {"tags": {"none": [kept]}}},
    ).json()

    in_use = members.delete(f"/v1/communities/{cid}/tags/{kept}")
    assert in_use.status_code == 409
    assert in_use.json()["used_by"] == [f"segment {segment['id']}"]
    assert members.delete(f"/v1/communities/{cid}/tags/{dropped}").status_code == 204
    assert members.delete(f"/v1/communities/{cid}/tags/{dropped}").status_code == 404
    assert _names(members, cid, member) == ["kept"]


def test_tag_member_creates_the_tag_once_and_tags_once(members: MembersApi, outbox: Outbox) -> None:
    community = members.community()
    cid = community["id"]
    member = members.join(cid)["id"]
    with members.session() as session:
        for _ in range(2):
            tag_member(
                session=session,
                community_id=cid,
                workspace_id="ws_test",
                member_id=member,
                tag_name="裂变达人",
                category="interaction",
            )
        session.commit()
    tags = members.get(f"/v1/communities/{cid}/members/{member}/tags").json()["data"]
    assert [(t["name"], t["category"]) for t in tags] == [("裂变达人", "interaction")]
    tagged = outbox.events("io.qunyun.member.tagged.v1")
    assert len(tagged) == 1


def test_a_merge_moves_tags_to_the_survivor_without_duplicates(members: MembersApi) -> None:
    community = members.community()
    cid = community["id"]
    shared, own = _tag(members, cid, "shared"), _tag(members, cid, "own")
    survivor, merged = members.join(cid)["id"], members.join(cid)["id"]
    path = f"/v1/communities/{cid}/tags/{{}}/members"
    members.post(path.format(shared), json={"member_ids": [survivor, merged]})
    members.post(path.format(own), json={"member_ids": [merged]})

    response = members.post(
        f"/v1/communities/{cid}/members/{survivor}/merge", json={"member_id": merged}
    )
    assert response.status_code == 200, response.text
    assert _names(members, cid, survivor) == ["own", "shared"]
    assert _names(members, cid, merged) == []
    # The merged-away record can no longer be tagged.
    again = members.post(path.format(own), json={"member_ids": [merged]})
    assert again.status_code == 422
