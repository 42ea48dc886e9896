"""Community rules (群规): numbered versions, acknowledgements, who has not read the current one."""

import concurrent.futures
from typing import Any

import pytest

from tests.integration.conftest import Outbox
from tests.integration.members.conftest import MembersApi

pytestmark = pytest.mark.integration


def test_versions_number_up_and_are_announced(members: MembersApi, outbox: Outbox) -> None:
    community = members.community()
    path = f"/v1/communities/{community['id']}/rules"
    assert members.get(f"{path}/current").json()["type"].endswith("no-rules")

    first = members.post(path, json={"text": "  1. 不发广告  "})
    assert first.status_code == 201
    assert first.json() | {"published_at": None} == {
        "version": 1,
        "text": "1. 不发广告",
        "published_by": "api_key:key_test",
        "published_at": None,
    }
    members.post(path, json={"text": "1. 不发广告\n2. 每天打卡"})
    assert members.get(f"{path}/current").json()["version"] == 2
    assert [r["version"] for r in members.get(path).json()["data"]] == [2, 1]

    page = members.get(path, params={"limit": 1}).json()
    rest = members.get(path, params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert [page["data"][0]["version"], rest["data"][0]["version"]] == [2, 1]
    assert rest["next_cursor"] is None

    published = outbox.events("io.qunyun.community.rules_published.v1")
    assert [e["version"] for e in published] == [1, 2]
    assert published[1]["text"] == "1. 不发广告\n2. 每天打卡"


def test_concurrent_publications_get_distinct_numbers(members: MembersApi) -> None:
    community = members.community()
    path = f"/v1/communities/{community['id']}/rules"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: members.post(path, json={"text": f"v{n}"}), range(12)))
    assert all(a.status_code == 201 for a in answers)
    assert sorted(a.json()["version"] for a in answers) == list(range(1, 13))


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "   "}, {"text": "x", "pinned": True}, {}])
def test_invalid_rules_are_422_and_publish_nothing(members: MembersApi, body: dict) -> None:
    community = members.community()
    path = f"/v1/communities/{community['id']}/rules"
    assert members.post(path, json=body).status_code == 422
    assert members.get(path).json()["data"] == []


def test_acknowledgements_and_who_has_not_read_the_current_version(
    members: MembersApi,
) -> None:
    community = members.community()
    cid = community["id"]
    path = f"/v1/communities/{cid}/rules"
    reader, laggard, newcomer = (members.join(cid)["id"] for _ in range(3))
    gone = members.join(cid)["id"]
    members.post(f"/v1/communities/{cid}/members/{gone}/remove", json={})
    members.post(path, json={"text": "v1"})
    members.post(path, json={"text": "v2"})

    def ack(member_id: str, version: int) -> Any:
        return members.post(
            f"/v1/communities/{cid}/members/{member_id}/rules-acknowledgements",
            json={"version": version},
        )

    current = ack(reader, 2)
    assert current.status_code == 200 and current.json()["is_current"] is True
    assert ack(reader, 2).json()["acknowledged_at"] == current.json()["acknowledged_at"]
    old = ack(laggard, 1)  # allowed, but does not count as reading the current rules
    assert old.status_code == 200 and old.json()["is_current"] is False

    missing = ack(newcomer, 3)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "version"
    assert ack(gone, 2).json()["type"].endswith("member-not-present")

    unread = members.get(f"{path}/current/unacknowledged").json()
    assert [m["id"] for m in unread["data"]] == [laggard, newcomer]

    first = members.get(f"{path}/current/unacknowledged", params={"limit": 1}).json()
    second = members.get(
        f"{path}/current/unacknowledged", params={"limit": 1, "cursor": first["next_cursor"]}
    ).json()
    assert [first["data"][0]["id"], second["data"][0]["id"]] == [laggard, newcomer]

    members.post(path, json={"text": "v3"})  # a new version: everyone has to read it again
    unread = members.get(f"{path}/current/unacknowledged").json()
    assert [m["id"] for m in unread["data"]] == [reader, laggard, newcomer]


def test_another_workspaces_rules_are_not_found(members: MembersApi) -> None:
    community = members.community()
    cid = community["id"]
    member = members.join(cid)["id"]
    members.post(f"/v1/communities/{cid}/rules", json={"text": "v1"})
    other = "ws_other"
    for method, path, body in [
        ("GET", f"/v1/communities/{cid}/rules", None),
        ("GET", f"/v1/communities/{cid}/rules/current", None),
        ("GET", f"/v1/communities/{cid}/rules/current/unacknowledged", None),
        ("POST", f"/v1/communities/{cid}/rules", {"text": "hijack"}),
        (
            "POST",
            f"/v1/communities/{cid}/members/{member}/rules-acknowledgements",
            {"version": 1},
        ),
    ]:
        assert members.request(method, path, workspace=other, json=body).status_code == 404
    assert members.get(f"/v1/communities/{cid}/rules/current").json()["version"] == 1
