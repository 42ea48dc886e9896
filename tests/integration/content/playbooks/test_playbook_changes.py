"""Editing and deactivating SOP playbooks on the real database and broker: runs under way keep
their planned times and follow the new steps, steps removed are cancelled, a deactivated
playbook starts nothing and its runs stop; conflicts and bad edits are problems that change
nothing."""

from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.contracts import MemberJoined, PlatformIdentity
from services.content.playbooks.handlers import on_member_joined
from tests.integration.content.conftest import WORKSPACE, ContentApi

SEND = "content-send-playbook-steps"


def _join(content: ContentApi, community_id: str, member_id: str, at: datetime) -> None:
    content.apply(
        on_member_joined,
        MemberJoined(
            member_id=member_id,
            community_id=community_id,
            display_name="新人",
            identities=[PlatformIdentity(platform="wecom", external_id=f"wx-{member_id}")],
            joined_at=at,
        ),
        workspace=WORKSPACE,
        community_id=community_id,
    )


def _runs(content: ContentApi, playbook_id: str) -> dict[str, dict[str, Any]]:
    return {r["member_id"]: r for r in content.get(f"/v1/sops/{playbook_id}/runs").json()["data"]}


def _welcome(content: ContentApi, community_id: str, item_id: str, **body: Any) -> dict[str, Any]:
    fields = {
        "name": "新人欢迎",
        "anchor": "member_joined_community",
        "steps": [
            {"content_item_id": item_id, "after_minutes": minutes} for minutes in (60, 120, 180)
        ],
        "end_actions": {"add_tag": "旧标签"},
    }
    created = content.post(f"/v1/communities/{community_id}/sops", json=fields | body)
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def test_an_edit_reaches_runs_under_way_without_moving_their_times(content: ContentApi) -> None:
    cid = content.community()
    old = content.approved_item(cid, kind="announcement", body="旧的欢迎词")
    new = content.approved_item(cid, kind="announcement", body="新的欢迎词")
    playbook = _welcome(content, cid, old["id"])
    joined_at = datetime.now(UTC).replace(microsecond=0)
    _join(content, cid, "mem_early", joined_at)
    planned = [s["due_at"] for s in _runs(content, playbook["id"])["mem_early"]["steps"]]

    edited = content.patch(
        f"/v1/sops/{playbook['id']}",
        json={
            "name": "新人欢迎 v2",
            "steps": [
                {"content_item_id": new["id"], "after_minutes": 30},
                {"content_item_id": new["id"], "after_minutes": 90},
            ],
            "end_actions": {"add_tag": "新标签"},
        },
    )
    assert edited.status_code == 200, edited.text
    shown = edited.json()
    assert (shown["name"], shown["anchor"], shown["active"]) == (
        "新人欢迎 v2",
        "member_joined_community",
        True,
    )
    assert [s["after_minutes"] for s in shown["steps"]] == [30, 90]
    assert content.get(f"/v1/sops/{playbook['id']}").json() == shown

    # The run under way: its times stay, the step past the new last one is cancelled.
    early = _runs(content, playbook["id"])["mem_early"]
    assert [s["due_at"] for s in early["steps"]] == planned
    assert [(s["state"], s["reason"]) for s in early["steps"]] == [
        ("pending", None),
        ("pending", None),
        ("cancelled", "step removed"),
    ]
    # Its remaining steps send the new content at their planned times, then the new end action.
    assert content.run_job(SEND, joined_at + timedelta(minutes=61)) == 1
    assert content.run_job(SEND, joined_at + timedelta(minutes=121)) == 1
    early = _runs(content, playbook["id"])["mem_early"]
    assert early["state"] == "completed"
    events = content.events("io.qunyun.content.publication_due.v1", expect=3)
    assert [e.data["text"] for e in events] == ["新的欢迎词", "新的欢迎词"]
    (tag,) = content.events("io.qunyun.content.member_tag_requested.v1", expect=3)
    assert (tag.data["member_id"], tag.data["tag_name"]) == ("mem_early", "新标签")

    # A join after the edit runs the new definition.
    _join(content, cid, "mem_late", joined_at + timedelta(minutes=5))
    late = _runs(content, playbook["id"])["mem_late"]
    assert [datetime.fromisoformat(s["due_at"]) for s in late["steps"]] == [
        joined_at + timedelta(minutes=m) for m in (35, 95)
    ]


def test_bad_edits_are_problems_that_change_nothing(content: ContentApi) -> None:
    cid = content.community()
    item = content.approved_item(cid, kind="announcement", body="欢迎")
    draft = content.post(
        f"/v1/communities/{cid}/contents",
        json={"kind": "announcement", "title": "草稿", "body": "..."},
    ).json()
    playbook = _welcome(content, cid, item["id"])
    path = f"/v1/sops/{playbook['id']}"
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"anchor": "group_created"}, 422, "anchor"),  # an anchor is not changed: a new playbook
        ({"name": None}, 422, "name"),
        ({"steps": []}, 422, "steps"),
        ({"end_actions": {"add_tag": "x" * 41}}, 422, "end_actions.add_tag"),
        (
            {"steps": [{"content_item_id": draft["id"], "after_minutes": 5}]},
            422,
            "content_item_id",
        ),
        ({"unknown": 1}, 422, "unknown"),
    ]
    for body, status, field in cases:
        response = content.patch(path, json=body)
        assert response.status_code == status, (body, response.text)
        problem = response.json()
        assert response.headers["content-type"].startswith("application/problem+json")
        fields = [e["field"] for e in problem.get("errors", [])] or [problem.get("field")]
        assert any(f and f.startswith(field) for f in fields), (body, problem)
    assert content.get(path).json() == playbook
    stranger = content.patch(path, json={"name": "x"}, workspace="ws_other")
    assert stranger.status_code == 404
    too_long = content.post(
        f"/v1/communities/{cid}/sops",
        json={
            "name": "x",
            "anchor": "member_joined_community",
            "steps": [{"content_item_id": item["id"], "after_minutes": 5}],
            "end_actions": {"add_tag": "x" * 41},  # members holds tag names of 40 at most
        },
    )
    assert too_long.status_code == 422


def test_a_deactivated_playbook_stops_its_runs_and_starts_none(content: ContentApi) -> None:
    cid = content.community()
    item = content.approved_item(cid, kind="announcement", body="欢迎")
    playbook = _welcome(content, cid, item["id"])
    follower = _welcome(content, cid, item["id"], anchor="group_created", name="后续")
    chained = _welcome(
        content,
        cid,
        item["id"],
        name="先导",
        steps=[{"content_item_id": item["id"], "after_minutes": 1}],
        end_actions={"start_playbook_id": follower["id"]},
    )
    assert content.post(f"/v1/sops/{follower['id']}/deactivate").status_code == 200
    at = datetime.now(UTC).replace(microsecond=0)
    _join(content, cid, "mem_1", at)
    path = f"/v1/sops/{playbook['id']}"

    done = content.post(f"{path}/deactivate")
    assert done.status_code == 200, done.text
    assert done.json()["active"] is False
    run = _runs(content, playbook["id"])["mem_1"]
    assert run["state"] == "cancelled"
    assert {(s["state"], s["reason"]) for s in run["steps"]} == {
        ("cancelled", "playbook deactivated")
    }
    _join(content, cid, "mem_2", at + timedelta(minutes=1))
    assert set(_runs(content, playbook["id"])) == {"mem_1"}
    assert set(_runs(content, chained["id"])) == {"mem_1", "mem_2"}
    # Only the other playbook's steps are sent; its end action starts no deactivated playbook.
    assert content.run_job(SEND, at + timedelta(hours=4)) == 2
    assert {r["state"] for r in _runs(content, chained["id"]).values()} == {"completed"}
    assert _runs(content, follower["id"]) == {}

    again = content.post(f"{path}/deactivate")
    assert again.status_code == 409
    assert again.json()["type"].endswith("/content-state-conflict")
    edit = content.patch(path, json={"name": "复活"})
    assert edit.status_code == 409
    assert content.get(path).json()["name"] == "新人欢迎"
    assert content.post(f"{path}/deactivate", workspace="ws_other").status_code == 404
