"""Groups (群活码) on real Postgres and Kafka: registering them, their order and settings,
temporary groups dissolving at their time, and the tenant wall."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.periodic import run_job_once
from tests.integration.conftest import Outbox
from tests.integration.members.conftest import MembersApi
from tests.integration.members.groups.calls import assign, named_job, register_group

pytestmark = pytest.mark.integration


def test_groups_take_their_platforms_default_capacity_and_fill_in_creation_order(
    members: MembersApi,
    outbox: Outbox,
) -> None:
    community = members.community(settings={"groups": {"default_capacity": {"wecom": 200}}})
    cid = community["id"]
    wechat = register_group(members, cid, platform="wechat", external_id="wx_1")
    qq = register_group(members, cid, platform="qq", external_id="qq_1")
    wecom = register_group(members, cid, platform="wecom", external_id="wc_1")
    sized = register_group(members, cid, platform="wechat", external_id="wx_2", capacity=40)
    assert (wechat["capacity"], qq["capacity"], wecom["capacity"], sized["capacity"]) == (
        500,
        2000,
        200,
        40,
    )
    assert [g["position"] for g in (wechat, qq, wecom, sized)] == [1, 2, 3, 4]
    assert wechat["state"] == "filling" and wechat["room"] == 500 and wechat["members"] == 0

    created = outbox.starting("io.qunyun.group.created")
    assert [(e["platform"], e["external_id"]) for e in created] == [
        ("wechat", "wx_1"),
        ("qq", "qq_1"),
        ("wecom", "wc_1"),
        ("wechat", "wx_2"),
    ]
    listed = members.get(f"/v1/communities/{cid}/groups", params={"limit": 3}).json()
    rest = members.get(
        f"/v1/communities/{cid}/groups", params={"limit": 3, "cursor": listed["next_cursor"]}
    ).json()
    assert [g["id"] for g in listed["data"] + rest["data"]] == [
        wechat["id"],
        qq["id"],
        wecom["id"],
        sized["id"],
    ]
    assert rest["next_cursor"] is None
    only_qq = members.get(f"/v1/communities/{cid}/groups", params={"platform": "qq"}).json()
    assert [g["id"] for g in only_qq["data"]] == [qq["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "temporary"}, "dissolve_at"),
        ({"kind": "temporary", "dissolve_at": "2020-01-01T00:00:00Z"}, "dissolve_at"),
        ({"dissolve_at": "2999-01-01T00:00:00Z"}, "dissolve_at"),
        ({"kind": "temporary", "dissolve_at": "2999-01-01T00:00:00"}, "dissolve_at"),
        ({"capacity": 0}, "capacity"),
        ({"platform": "weibo"}, "platform"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_groups_are_a_422_naming_the_field_and_create_nothing(
    members: MembersApi, body: dict[str, Any], field: str
) -> None:
    cid = members.community()["id"]
    response = members.post(
        f"/v1/communities/{cid}/groups",
        json={"platform": "wechat", "external_id": "wx", "name": "群"} | body,
    )
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}
    assert members.get(f"/v1/communities/{cid}/groups").json()["data"] == []


def test_a_platform_group_is_registered_once_per_workspace(members: MembersApi) -> None:
    first, second = members.community()["id"], members.community()["id"]
    group = register_group(members, first, platform="qq", external_id="qq_42")
    for cid in (first, second):
        again = members.post(
            f"/v1/communities/{cid}/groups",
            json={"platform": "qq", "external_id": "qq_42", "name": "again"},
        )
        assert again.status_code == 409
        assert again.json()["type"].endswith("/group-exists")
        assert again.json()["group_id"] == group["id"]
    # The same chat id on another platform, or in another workspace, is another group.
    register_group(members, first, platform="wechat", external_id="qq_42")
    other = members.post(
        "/v1/communities",
        workspace="ws_other",
        json={"name": "x", "purpose": "brand", "timezone": "UTC"},
    ).json()
    elsewhere = members.post(
        f"/v1/communities/{other['id']}/groups",
        workspace="ws_other",
        json={"platform": "qq", "external_id": "qq_42", "name": "theirs"},
    )
    assert elsewhere.status_code == 201


def test_groups_are_reordered_renamed_resized_and_rescheduled(members: MembersApi) -> None:
    cid = members.community()["id"]
    a, b, c, d = (register_group(members, cid, name=n, capacity=5) for n in "abcd")
    base = f"/v1/communities/{cid}/groups"

    def order() -> list[str]:
        return [g["name"] for g in members.get(base).json()["data"]]

    moved = members.patch(f"{base}/{d['id']}", json={"position": 1})
    assert moved.status_code == 200 and moved.json()["position"] == 1
    assert order() == ["d", "a", "b", "c"]
    members.patch(f"{base}/{d['id']}", json={"position": 3})
    assert order() == ["a", "b", "d", "c"]
    out_of_range = members.patch(f"{base}/{a['id']}", json={"position": 9})
    assert out_of_range.status_code == 422 and out_of_range.json()["errors"][0]["field"] == (
        "position"
    )
    renamed = members.patch(f"{base}/{b['id']}", json={"name": "新名字", "capacity": 9}).json()
    assert (renamed["name"], renamed["capacity"], renamed["room"]) == ("新名字", 9, 9)
    assert members.patch(f"{base}/{b['id']}", json={"name": None}).status_code == 422
    permanent = members.patch(f"{base}/{c['id']}", json={"dissolve_at": "2999-01-01T00:00:00Z"})
    assert permanent.status_code == 422

    temp = register_group(
        members,
        cid,
        kind="temporary",
        dissolve_at=(datetime.now(UTC) + timedelta(days=1)).isoformat(),
    )
    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    assert members.patch(f"{base}/{temp['id']}", json={"dissolve_at": later}).status_code == 200
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert members.patch(f"{base}/{temp['id']}", json={"dissolve_at": past}).status_code == 422


def test_temporary_groups_dissolve_at_their_time(members: MembersApi, outbox: Outbox) -> None:
    cid = members.community()["id"]
    at = datetime.now(UTC) + timedelta(hours=1)
    night = register_group(
        members, cid, external_id="wx_night", kind="temporary", dissolve_at=at.isoformat()
    )
    keep = register_group(members, cid, external_id="wx_keep")
    guest, invitee = members.join(cid)["id"], members.join(cid)["id"]
    members.post(f"/v1/communities/{cid}/groups/{night['id']}/members/{guest}")
    place = assign(members, cid, invitee, include_temporary=True).json()
    assert place["group_id"] == night["id"]

    job = named_job("dissolve-temporary-groups")
    assert run_job_once(members.engine, job, now=datetime.now(UTC)) == 0
    assert run_job_once(members.engine, job, now=at + timedelta(minutes=1)) == 1
    assert run_job_once(members.engine, job, now=at + timedelta(minutes=2)) == 0

    gone = members.get(f"/v1/communities/{cid}/groups/{night['id']}").json()
    assert gone["state"] == "dissolved" and gone["members"] == 0 and gone["dissolved_at"]
    assert members.get(f"/v1/communities/{cid}/group-assignments/{place['id']}").json()[
        "status"
    ] == ("cancelled")
    [dissolved] = outbox.starting("io.qunyun.group.dissolved")
    assert (dissolved["external_id"], dissolved["platform"], dissolved["members_released"]) == (
        "wx_night",
        "wechat",
        1,
    )
    assert (
        members.patch(f"/v1/communities/{cid}/groups/{night['id']}", json={"name": "x"}).status_code
        == 409
    )
    # Newcomers who asked for temporary groups now go to the permanent one.
    assert assign(members, cid, invitee, include_temporary=True).json()["group_id"] == keep["id"]

    ended = members.post(f"/v1/communities/{cid}/groups/{keep['id']}/dissolve")
    assert ended.status_code == 200 and ended.json()["state"] == "dissolved"
    assert members.post(f"/v1/communities/{cid}/groups/{keep['id']}/dissolve").status_code == 409


def test_another_workspace_sees_none_of_it(members: MembersApi) -> None:
    cid = members.community()["id"]
    group = register_group(members, cid)
    member = members.join(cid)["id"]
    place = assign(members, cid, member).json()
    other = "ws_other"
    for path in (
        f"/v1/communities/{cid}/groups",
        f"/v1/communities/{cid}/groups/{group['id']}",
        f"/v1/communities/{cid}/groups/{group['id']}/members",
        f"/v1/communities/{cid}/group-assignments/{place['id']}",
    ):
        assert members.get(path, workspace=other).status_code == 404, path
    assert (
        members.patch(
            f"/v1/communities/{cid}/groups/{group['id']}", workspace=other, json={"name": "x"}
        ).status_code
        == 404
    )
    assert (
        members.post(
            f"/v1/communities/{cid}/group-assignments", workspace=other, json={"member_id": member}
        ).status_code
        == 404
    )
    theirs = members.post(
        "/v1/communities",
        workspace=other,
        json={"name": "x", "purpose": "brand", "timezone": "UTC"},
    ).json()
    # Our group and member through their community: not found either.
    assert (
        members.get(
            f"/v1/communities/{theirs['id']}/groups/{group['id']}", workspace=other
        ).status_code
        == 404
    )
    assert (
        members.post(
            f"/v1/communities/{theirs['id']}/group-assignments",
            workspace=other,
            json={"member_id": member},
        ).status_code
        == 404
    )
    assert members.get(f"/v1/communities/{cid}/groups/{group['id']}").json()["name"] == "群"
