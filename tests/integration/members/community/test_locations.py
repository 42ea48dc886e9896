"""Every 201 says where the created resource is read (`Location`), replays included."""

import pytest

from tests.integration.members.conftest import MembersApi

pytestmark = pytest.mark.integration


def test_every_201_has_a_location_that_reads_what_was_created(members: MembersApi) -> None:
    created = members.post(
        "/v1/communities",
        json={"name": "定位", "purpose": "interest", "timezone": "Asia/Shanghai"},
        headers={"Idempotency-Key": "location-1"},
    )
    assert created.status_code == 201
    cid = created.json()["id"]
    assert created.headers["location"] == f"/v1/communities/{cid}"
    assert members.get(created.headers["location"]).json()["id"] == cid
    replay = members.post(
        "/v1/communities",
        json={"name": "定位", "purpose": "interest", "timezone": "Asia/Shanghai"},
        headers={"Idempotency-Key": "location-1"},
    )
    assert replay.status_code == 201 and replay.headers["location"] == f"/v1/communities/{cid}"

    base = f"/v1/communities/{cid}"
    bodies = {
        "/members": {
            "display_name": "甲",
            "identities": [{"platform": "wechat", "external_id": "wx_loc"}],
        },
        "/tags": {"name": "高意向"},
        "/badges": {"name": "先锋"},
        "/segments": {"name": "所有人", "rules": {}},
        "/referral-campaigns": {
            "name": "邀三得一",
            "invites_required": 3,
            "reward": {"points": 10},
            "starts_at": "2026-01-01T00:00:00+08:00",
        },
    }
    for collection, body in bodies.items():
        response = members.post(base + collection, json=body)
        assert response.status_code == 201, (collection, response.text)
        location = response.headers["location"]
        assert location == f"{base}{collection}/{response.json()['id']}"
        assert members.get(location).json()["id"] == response.json()["id"], collection
    member = members.join(cid, "wx_again")
    again = members.post(
        base + "/members",
        json={
            "display_name": "乙",
            "identities": [{"platform": "wechat", "external_id": "wx_again"}],
        },
    )
    assert again.status_code == 200 and again.json()["id"] == member["id"]
    assert "location" not in again.headers
