"""Outreach (私有化): friend-request tasks per operator account under a daily cap counted in the
community's timezone, safe under concurrent pulls."""

import concurrent.futures
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session

from services.members.community import service
from services.members.outreach import service as outreach_service
from tests.integration.members.conftest import MembersApi

pytestmark = pytest.mark.integration


def _setup(
    members: MembersApi, n: int, daily_cap: int | None = None, **community: Any
) -> tuple[str, str, list[str]]:
    cid = members.community(**community)["id"]
    body = {"name": "运营小王", "platform": "wechat", "external_id": "wx_ops_1"}
    if daily_cap is not None:
        body["daily_cap"] = daily_cap  # type: ignore[assignment]
    account = members.post(f"/v1/communities/{cid}/outreach/accounts", json=body)
    assert account.status_code == 201, account.text
    ids = [members.join(cid, display_name=f"m{k}")["id"] for k in range(n)]
    return cid, account.json()["id"], ids


def _queue(members: MembersApi, cid: str, aid: str, ids: list[str]) -> dict[str, Any]:
    response = members.post(
        f"/v1/communities/{cid}/outreach/tasks", json={"account_id": aid, "member_ids": ids}
    )
    assert response.status_code == 200, response.text
    return response.json()


def _batch(members: MembersApi, cid: str, aid: str, size: int | None = None) -> dict[str, Any]:
    response = members.post(
        f"/v1/communities/{cid}/outreach/accounts/{aid}/next-batch",
        json={} if size is None else {"size": size},
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_accounts_register_once_and_start_with_the_communitys_cap(members: MembersApi) -> None:
    cid, aid, _ = _setup(members, 0, settings={"outreach": {"daily_friend_request_cap": 12}})
    account = members.get(f"/v1/communities/{cid}/outreach/accounts/{aid}").json()
    assert (account["daily_cap"], account["used_today"], account["remaining_today"]) == (12, 0, 12)
    again = members.post(
        f"/v1/communities/{cid}/outreach/accounts",
        json={"name": "另一个名字", "platform": "wechat", "external_id": "wx_ops_1"},
    )
    assert again.status_code == 409 and again.json()["type"].endswith("account-exists")
    for bad in (
        {"name": "x", "platform": "fax", "external_id": "1"},
        {"name": "", "platform": "qq", "external_id": "1"},
        {"name": "x", "platform": "qq", "external_id": "1", "daily_cap": 0},
    ):
        assert members.post(f"/v1/communities/{cid}/outreach/accounts", json=bad).status_code == 422
    listed = members.get(f"/v1/communities/{cid}/outreach/accounts").json()["data"]
    assert [a["id"] for a in listed] == [aid]


def test_tasks_are_queued_once_per_account_and_member(members: MembersApi) -> None:
    cid, aid, ids = _setup(members, 3)
    first = _queue(members, cid, aid, ids[:2])
    assert sorted(t["member_id"] for t in first["queued"]) == sorted(ids[:2])
    assert first["already_queued"] == []
    second = _queue(members, cid, aid, [ids[1], ids[2], ids[2]])
    assert [t["member_id"] for t in second["queued"]] == [ids[2]]
    assert second["already_queued"] == [ids[1]]

    other = members.community()["id"]
    stranger = members.join(other)["id"]
    refused = members.post(
        f"/v1/communities/{cid}/outreach/tasks",
        json={"account_id": aid, "member_ids": [ids[0], stranger]},
    )
    assert refused.status_code == 422 and refused.json()["member_ids"] == [stranger]
    missing = members.post(
        f"/v1/communities/{cid}/outreach/tasks", json={"account_id": "oac_nope", "member_ids": ids}
    )
    assert missing.status_code == 404
    assert members.get(f"/v1/communities/{cid}/outreach/accounts/{aid}").json()["queued"] == 3


def test_batches_never_exceed_what_is_left_of_todays_cap(members: MembersApi) -> None:
    cid, aid, ids = _setup(members, 8, daily_cap=5)
    _queue(members, cid, aid, ids)
    first = _batch(members, cid, aid, size=3)
    assert len(first["tasks"]) == 3 and (first["used_today"], first["remaining_today"]) == (3, 2)
    assert first["tasks"][0]["identities"][0]["platform"] == "wechat"
    assert all(t["status"] == "issued" and t["issued_at"] for t in first["tasks"])
    second = _batch(members, cid, aid, size=10)
    assert len(second["tasks"]) == 2 and second["remaining_today"] == 0
    assert _batch(members, cid, aid)["tasks"] == []
    issued = {t["member_id"] for t in first["tasks"] + second["tasks"]}
    assert len(issued) == 5
    account = members.get(f"/v1/communities/{cid}/outreach/accounts/{aid}").json()
    assert (account["used_today"], account["remaining_today"], account["queued"]) == (5, 0, 3)


def test_the_cap_resets_at_local_midnight(members: MembersApi) -> None:
    cid, aid, ids = _setup(
        members, 7, settings={"outreach": {"daily_friend_request_cap": 3}}
    )  # Asia/Shanghai
    _queue(members, cid, aid, ids)

    def pull(at: datetime) -> int:
        with Session(members.engine) as session:
            community = service.get_community(
                session=session, workspace_id="ws_test", community_id=cid
            )
            batch = outreach_service.next_batch(
                session=session, community=community, account_id=aid, size=None, at=at
            )
            session.commit()
            return len(batch.tasks)

    # 23:50 and 23:59 on 14 Nov in Shanghai are one day; 00:10 on the 15th is the next,
    # though all three are 14 Nov in UTC.
    assert pull(datetime(2025, 11, 14, 15, 50, tzinfo=UTC)) == 3
    assert pull(datetime(2025, 11, 14, 15, 59, tzinfo=UTC)) == 0
    assert pull(datetime(2025, 11, 14, 16, 10, tzinfo=UTC)) == 3
    assert pull(datetime(2025, 11, 14, 23, 0, tzinfo=UTC)) == 0
    assert pull(datetime(2025, 11, 15, 16, 0, tzinfo=UTC)) == 1  # the queue runs out


def test_concurrent_pulls_never_issue_more_than_the_cap(members: MembersApi) -> None:
    cid, aid, ids = _setup(members, 45)  # the default cap: 20 a day
    _queue(members, cid, aid, ids)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        batches = list(pool.map(lambda _: _batch(members, cid, aid, size=4), range(12)))
    issued = [t["id"] for b in batches for t in b["tasks"]]
    assert len(issued) == 20 and len(set(issued)) == 20
    account = members.get(f"/v1/communities/{cid}/outreach/accounts/{aid}").json()
    assert (account["used_today"], account["remaining_today"], account["queued"]) == (20, 0, 25)


def test_results_are_recorded_once_and_banned_members_are_skipped(members: MembersApi) -> None:
    cid, aid, ids = _setup(members, 3)
    _queue(members, cid, aid, ids)
    members.post(f"/v1/communities/{cid}/members/{ids[0]}/ban", json={})

    batch = _batch(members, cid, aid, size=1)
    assert [t["member_id"] for t in batch["tasks"]] == [ids[1]]
    assert batch["used_today"] == 1  # the banned member's task was cancelled, not counted
    task = batch["tasks"][0]["id"]
    path = f"/v1/communities/{cid}/outreach/tasks/{task}/result"
    assert members.post(path, json={"outcome": "accepted"}).json()["status"] == "accepted"
    assert members.post(path, json={"outcome": "accepted"}).status_code == 200
    changed = members.post(path, json={"outcome": "declined"})
    assert changed.status_code == 409 and changed.json()["type"].endswith(
        "outcome-already-recorded"
    )
    assert members.post(path, json={"outcome": "ghosted"}).status_code == 422

    remaining = _batch(members, cid, aid)["tasks"]
    assert [t["member_id"] for t in remaining] == [ids[2]]
    refused = members.post(
        f"/v1/communities/{cid}/outreach/tasks", json={"account_id": aid, "member_ids": [ids[0]]}
    )
    assert refused.status_code == 422  # a banned member is not befriended


def test_a_queued_task_takes_no_outcome_and_other_workspaces_see_nothing(
    members: MembersApi,
) -> None:
    cid, aid, ids = _setup(members, 1)
    task = _queue(members, cid, aid, ids)["queued"][0]["id"]
    early = members.post(
        f"/v1/communities/{cid}/outreach/tasks/{task}/result", json={"outcome": "accepted"}
    )
    assert early.status_code == 409 and early.json()["type"].endswith("task-not-issued")
    other = "ws_other"
    for method, path, body in [
        ("GET", f"/v1/communities/{cid}/outreach/accounts/{aid}", None),
        ("GET", f"/v1/communities/{cid}/outreach/accounts", None),
        ("POST", f"/v1/communities/{cid}/outreach/accounts/{aid}/next-batch", {}),
        ("POST", f"/v1/communities/{cid}/outreach/tasks", {"account_id": aid, "member_ids": ids}),
        ("POST", f"/v1/communities/{cid}/outreach/tasks/{task}/result", {"outcome": "failed"}),
        (
            "POST",
            f"/v1/communities/{cid}/outreach/accounts",
            {"name": "x", "platform": "qq", "external_id": "9"},
        ),
    ]:
        assert members.request(method, path, workspace=other, json=body).status_code == 404
    assert members.get(f"/v1/communities/{cid}/outreach/accounts/{aid}").json()["used_today"] == 0
