"""The calendar: occurrences already handled as they were, those to come as they will fire,
and playbook steps due, in the community's timezone."""

from datetime import UTC, datetime, timedelta

from services.common.contracts import GroupCreated
from services.content.playbooks.handlers import on_group_created
from tests.integration.content.conftest import WORKSPACE, ContentApi, local_time, next_minute


def test_the_calendar_shows_occurrences_and_steps_in_local_time(content: ContentApi) -> None:
    community_id = content.community(timezone="America/New_York")
    group_id = content.group(community_id)
    item = content.approved_item(community_id, title="晨报")
    first = next_minute()
    schedule = content.schedule(
        community_id,
        name="每日晨报",
        content_item_id=item["id"],
        target={"kind": "groups", "group_ids": [group_id]},
        starts_at=local_time(first, "America/New_York"),
        rrule="FREQ=DAILY",
    )
    content.dispatch(first + timedelta(seconds=1))
    welcome = content.post(
        f"/v1/communities/{community_id}/sops",
        json={
            "name": "新群欢迎",
            "anchor": "group_created",
            "steps": [{"content_item_id": item["id"], "after_minutes": 30, "to": "group"}],
        },
    ).json()
    created_at = datetime.now(UTC)
    new_group = GroupCreated(
        group_id="grp_new",
        community_id=community_id,
        platform="wechat",
        external_id="wx-new",
        name="二群",
        kind="permanent",
        capacity=500,
        position=2,
        dissolve_at=None,
        segment_id=None,
        created_at=created_at,
    )
    content.apply(on_group_created, new_group, workspace=WORKSPACE, community_id=community_id)

    listed = content.get(
        f"/v1/communities/{community_id}/calendar",
        params={
            "from": (first - timedelta(hours=1)).isoformat(),
            "to": (first + timedelta(days=2, hours=1)).isoformat(),
        },
    )
    assert listed.status_code == 200, listed.text
    calendar = listed.json()
    assert calendar["timezone"] == "America/New_York"
    occurrences = [e for e in calendar["entries"] if e["kind"] == "schedule_occurrence"]
    assert [e["status"] for e in occurrences] == ["dispatched", "planned", "planned"]
    assert {e["schedule_id"] for e in occurrences} == {schedule["id"]}
    assert all(
        e["local"][-6:] in ("-05:00", "-04:00") and e["title"] == "晨报" for e in occurrences
    )
    (step,) = [e for e in calendar["entries"] if e["kind"] == "playbook_step"]
    assert (step["playbook_id"], step["status"], step["target"]["group_id"]) == (
        welcome["id"],
        "pending",
        "grp_new",
    )
    too_wide = content.get(
        f"/v1/communities/{community_id}/calendar",
        params={"from": "2026-01-01T00:00:00Z", "to": "2026-12-31T00:00:00Z"},
    )
    assert too_wide.status_code == 400
    assert too_wide.json()["type"].endswith("/occurrence-window-invalid")
