"""SOP playbooks: runs started by members' joins on Kafka, steps sent when due, a leaving
member's steps cancelled, end actions (a tag request, another playbook)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.contracts import (
    GroupMemberJoined,
    GroupMemberLeft,
    MemberJoined,
    MemberStatusChanged,
    PlatformIdentity,
)
from services.content.playbooks.handlers import on_group_member_joined, on_group_member_left
from services.content.playbooks.models import Step
from services.content.playbooks.timing import due_at
from tests.integration.content.conftest import (
    WORKSPACE,
    ContentApi,
    eventually,
)


def _joined(member_id: str, community_id: str, at: datetime) -> MemberJoined:
    return MemberJoined(
        member_id=member_id,
        community_id=community_id,
        display_name="新人",
        identities=[PlatformIdentity(platform="wecom", external_id=f"wx-{member_id}")],
        joined_at=at,
    )


def test_a_welcome_sequence_runs_and_a_removed_members_steps_are_cancelled(
    content: ContentApi,
) -> None:
    community_id = content.community()
    welcome = content.approved_item(community_id, kind="announcement", body="欢迎加入！")
    rules = content.approved_item(community_id, kind="rules_reminder", body="请阅读群规")
    steps: list[dict[str, Any]] = [
        {"content_item_id": welcome["id"], "after_minutes": 120},
        {"content_item_id": rules["id"], "day": 1, "at": "09:00:00"},
    ]
    follow_up = content.post(
        f"/v1/communities/{community_id}/sops",
        json={
            "name": "第二周",
            # Not started by joins: only the welcome sequence's end action starts it.
            "anchor": "group_created",
            "steps": [{"content_item_id": welcome["id"], "day": 7, "at": "20:00:00"}],
        },
    ).json()
    created = content.post(
        f"/v1/communities/{community_id}/sops",
        json={
            "name": "新人欢迎",
            "anchor": "member_joined_community",
            "steps": steps,
            "end_actions": {"add_tag": "新人完成", "start_playbook_id": follow_up["id"]},
        },
    )
    assert created.status_code == 201, created.text
    playbook = created.json()

    joined_at = datetime.now(UTC).replace(microsecond=0)
    content.publish(_joined("mem_stays", community_id, joined_at), community_id=community_id)
    content.publish(_joined("mem_leaves", community_id, joined_at), community_id=community_id)

    def runs() -> dict[str, dict[str, Any]]:
        listed = content.get(f"/v1/sops/{playbook['id']}/runs").json()["data"]
        return {r["member_id"]: r for r in listed}

    assert eventually(lambda: len(runs()) == 2)
    content.publish(
        MemberStatusChanged(
            member_id="mem_leaves",
            community_id=community_id,
            from_status="active",
            to_status="banned",
            actor="op",
            reason="ads",
            until=None,
            identities=[],
            changed_at=datetime.now(UTC),
        ),
        community_id=community_id,
    )
    assert eventually(lambda: runs()["mem_leaves"]["state"] == "cancelled")
    assert [s["state"] for s in runs()["mem_leaves"]["steps"]] == ["cancelled", "cancelled"]

    first_due = joined_at + timedelta(hours=2)
    second_due = due_at(
        Step.model_validate(steps[1]), anchored_at=joined_at, timezone="Asia/Shanghai"
    )
    assert content.run_job("content-send-playbook-steps", first_due - timedelta(seconds=1)) == 0
    assert content.run_job("content-send-playbook-steps", first_due + timedelta(seconds=1)) == 1
    assert [s["state"] for s in runs()["mem_stays"]["steps"]] == ["sent", "pending"]
    assert content.run_job("content-send-playbook-steps", second_due + timedelta(seconds=1)) == 1
    stays = runs()["mem_stays"]
    assert stays["state"] == "completed"
    assert [s["state"] for s in stays["steps"]] == ["sent", "sent"]

    due = content.events("io.qunyun.content.publication_due.v1", expect=2)
    assert [(e.data["member_id"], e.data["external_id"], e.data["text"]) for e in due] == [
        ("mem_stays", "wx-mem_stays", "欢迎加入！"),
        ("mem_stays", "wx-mem_stays", "请阅读群规"),
    ]
    (tagged,) = content.events("io.qunyun.content.member_tag_requested.v1", expect=3)
    assert (tagged.data["member_id"], tagged.data["tag_name"]) == ("mem_stays", "新人完成")
    # The end action started the follow-up playbook for the same member.
    follow_runs = content.get(f"/v1/sops/{follow_up['id']}/runs").json()["data"]
    assert [(r["member_id"], r["state"]) for r in follow_runs] == [("mem_stays", "running")]


def test_a_playbook_of_unapproved_content_is_refused(content: ContentApi) -> None:
    community_id = content.community()
    draft = content.post(
        f"/v1/communities/{community_id}/contents",
        json={"kind": "announcement", "title": "草稿", "body": "..."},
    ).json()
    response = content.post(
        f"/v1/communities/{community_id}/sops",
        json={
            "name": "x",
            "anchor": "group_created",
            "steps": [{"content_item_id": draft["id"], "after_minutes": 5, "to": "group"}],
        },
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith("/content-not-approved")
    assert content.get(f"/v1/communities/{community_id}/sops").json()["data"] == []


def test_a_group_join_starts_a_run_and_leaving_the_group_cancels_it(content: ContentApi) -> None:
    community_id = content.community(timezone="Europe/Berlin")
    group_id = content.group(community_id)
    other_group = content.group(community_id)
    item = content.approved_item(community_id, kind="announcement", body="欢迎 {{group_name}}")
    playbook = content.post(
        f"/v1/communities/{community_id}/sops",
        json={
            "name": "入群欢迎",
            "anchor": "member_joined_group",
            "group_ids": [group_id],
            "steps": [
                {"content_item_id": item["id"], "after_minutes": 0, "to": "group"},
                {"content_item_id": item["id"], "day": 3, "at": "20:00:00", "to": "member"},
            ],
        },
    ).json()
    now = datetime.now(UTC)

    def joined(group: str, who: str) -> None:
        content.apply(
            on_group_member_joined,
            GroupMemberJoined(
                platform="wechat",
                group_external_id=f"ext-{group}",
                sender_external_id=who,
                occurred_at=now,
            ),
            workspace=WORKSPACE,
            community_id=community_id,
        )

    joined(group_id, "wx-a")
    joined(group_id, "wx-a")  # the bot said it twice: still one run
    joined(other_group, "wx-b")  # not a group this playbook is for
    runs = content.get(f"/v1/sops/{playbook['id']}/runs").json()["data"]
    assert [(r["group_id"], [s["state"] for s in r["steps"]]) for r in runs] == [
        (group_id, ["pending", "pending"])
    ]
    assert content.run_job("content-send-playbook-steps", now + timedelta(seconds=1)) == 1
    content.apply(
        on_group_member_left,
        GroupMemberLeft(
            platform="wechat",
            group_external_id=f"ext-{group_id}",
            sender_external_id="wx-a",
            occurred_at=now,
        ),
        workspace=WORKSPACE,
        community_id=community_id,
    )
    (run,) = content.get(f"/v1/sops/{playbook['id']}/runs").json()["data"]
    assert run["state"] == "cancelled"
    assert [(s["state"], s["reason"]) for s in run["steps"]] == [
        ("sent", None),
        ("cancelled", "member left the group"),
    ]
    (due,) = content.events("io.qunyun.content.publication_due.v1", expect=1)
    assert (due.data["group_id"], due.data["text"]) == (group_id, f"欢迎 群 {group_id[-4:]}")
