"""Schedules: RRULE and one-off in the community's timezone, the occurrences endpoint across
DST, pause and resume, and bad input as problems that change nothing."""

from typing import Any

import pytest

from tests.integration.content.conftest import ContentApi


def _weekday_discussion(content: ContentApi, timezone: str, **overrides: Any) -> dict[str, Any]:
    community_id = content.community(timezone=timezone)
    group_id = content.group(community_id)
    item = content.approved_item(community_id, kind="topic")
    body = {
        "name": "工作日讨论",
        "content_item_id": item["id"],
        "target": {"kind": "groups", "group_ids": [group_id]},
        "starts_at": "2026-03-02T19:20:00",
        "rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    } | overrides
    return content.schedule(community_id, **body)


def test_weekday_discussion_in_shanghai(content: ContentApi) -> None:
    schedule = _weekday_discussion(content, "Asia/Shanghai")
    assert schedule["timezone"] == "Asia/Shanghai" and schedule["state"] == "active"
    listed = content.get(
        f"/v1/schedules/{schedule['id']}/occurrences",
        params={"from": "2026-03-06T00:00:00+08:00", "to": "2026-03-10T00:00:00+08:00"},
    )
    assert listed.status_code == 200, listed.text
    assert [(o["local"], o["utc"]) for o in listed.json()["occurrences"]] == [
        ("2026-03-06T19:20:00+08:00", "2026-03-06T11:20:00Z"),
        ("2026-03-09T19:20:00+08:00", "2026-03-09T11:20:00Z"),
    ]


def test_new_york_occurrences_across_both_dst_changes(content: ContentApi) -> None:
    schedule = _weekday_discussion(
        content, "America/New_York", starts_at="2026-03-06T02:30:00", rrule="FREQ=DAILY"
    )
    spring = content.get(
        f"/v1/schedules/{schedule['id']}/occurrences",
        params={"from": "2026-03-07T00:00:00", "to": "2026-03-10T00:00:00"},  # local
    ).json()["occurrences"]
    assert [(o["local"], o["utc"]) for o in spring] == [
        ("2026-03-07T02:30:00-05:00", "2026-03-07T07:30:00Z"),
        ("2026-03-08T03:30:00-04:00", "2026-03-08T07:30:00Z"),  # 02:30 does not exist
        ("2026-03-09T02:30:00-04:00", "2026-03-09T06:30:00Z"),
    ]
    changed = content.patch(
        f"/v1/schedules/{schedule['id']}", json={"starts_at": "2026-10-30T01:30:00"}
    )
    assert changed.status_code == 200, changed.text
    autumn = content.get(
        f"/v1/schedules/{schedule['id']}/occurrences",
        params={"from": "2026-10-31T00:00:00-04:00", "to": "2026-11-03T00:00:00-05:00"},
    ).json()["occurrences"]
    assert [(o["local"], o["utc"]) for o in autumn] == [
        ("2026-10-31T01:30:00-04:00", "2026-10-31T05:30:00Z"),
        ("2026-11-01T01:30:00-04:00", "2026-11-01T05:30:00Z"),  # the first of the two 01:30s
        ("2026-11-02T01:30:00-05:00", "2026-11-02T06:30:00Z"),
    ]


def test_berlin_schedule_keeps_its_wall_clock(content: ContentApi) -> None:
    schedule = _weekday_discussion(
        content, "Europe/Berlin", starts_at="2026-03-27T08:00:00", rrule="FREQ=DAILY;COUNT=4"
    )
    found = content.get(
        f"/v1/schedules/{schedule['id']}/occurrences",
        params={"from": "2026-03-01T00:00:00Z", "to": "2026-04-30T00:00:00Z"},
    ).json()["occurrences"]
    assert [o["utc"][11:16] for o in found] == ["07:00", "07:00", "06:00", "06:00"]
    assert {o["local"][11:19] for o in found} == {"08:00:00"}


def test_pause_and_resume(content: ContentApi) -> None:
    schedule = _weekday_discussion(content, "Asia/Shanghai", starts_at="2030-01-07T19:20:00")
    assert schedule["next_occurrence"]["utc"] == "2030-01-07T11:20:00Z"
    paused = content.post(f"/v1/schedules/{schedule['id']}/pause").json()
    assert (paused["state"], paused["next_occurrence"]) == ("paused", None)
    assert content.post(f"/v1/schedules/{schedule['id']}/pause").status_code == 409
    resumed = content.post(f"/v1/schedules/{schedule['id']}/resume").json()
    assert resumed["state"] == "active" and resumed["next_occurrence"] is not None


@pytest.mark.parametrize(
    ("overrides", "field", "slug"),
    [
        ({"rrule": "FREQ=SOMETIMES"}, "rrule", "invalid-recurrence"),
        ({"rrule": "FREQ=DAILY;UNTIL=20250101T000000"}, "rrule", "invalid-recurrence"),
        ({"timezone": "Mars/Olympus"}, "timezone", "schedule-timezone-unknown"),
        (
            {"target": {"kind": "groups", "group_ids": ["grp_nope"]}},
            "target.group_ids",
            "schedule-target-invalid",
        ),
    ],
)
def test_bad_schedules_are_problems_that_change_nothing(
    content: ContentApi, overrides: dict[str, Any], field: str, slug: str
) -> None:
    community_id = content.community()
    group_id = content.group(community_id)
    item = content.approved_item(community_id)
    body = {
        "name": "坏的",
        "content_item_id": item["id"],
        "target": {"kind": "groups", "group_ids": [group_id]},
        "starts_at": "2026-03-02T08:00:00",
        "rrule": "FREQ=DAILY",
    } | overrides
    response = content.post(f"/v1/communities/{community_id}/schedules", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("/" + slug)
    assert [e["field"] for e in problem["errors"]] == [field]
    assert content.get(f"/v1/communities/{community_id}/schedules").json()["data"] == []


def test_unapproved_content_cannot_be_scheduled(content: ContentApi) -> None:
    community_id = content.community()
    group_id = content.group(community_id)
    draft = content.post(
        f"/v1/communities/{community_id}/contents",
        json={"kind": "article", "title": "草稿", "body": "..."},
    ).json()
    response = content.post(
        f"/v1/communities/{community_id}/schedules",
        json={
            "name": "草稿排期",
            "content_item_id": draft["id"],
            "target": {"kind": "groups", "group_ids": [group_id]},
            "starts_at": "2030-03-02T08:00:00",
        },
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith("/content-not-approved")
    assert response.json()["errors"][0]["field"] == "content_item_id"
    assert content.get(f"/v1/communities/{community_id}/schedules").json()["data"] == []
