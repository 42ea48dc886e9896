"""Activities on the calendar: the sessions of the community's published activities, kept
from the plans the events service announces, the latest plan winning."""

from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.contracts import ActivityPlanned, PlannedSession
from services.content.replica.handlers import on_activity_planned
from tests.integration.content.conftest import WORKSPACE, ContentApi

MONDAY = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)  # 19:00 in Shanghai


def _plan(
    community_id: str, changed_at: datetime, *, status: str = "published", **fields: object
) -> ActivityPlanned:
    return ActivityPlanned.model_validate(
        {
            "activity_id": "act_camp",
            "community_id": community_id,
            "kind": "training_camp",
            "title": "写作训练营",
            "status": status,
            "place": None,
            "online_url": "https://meeting.example.com/camp",
            "group_id": None,
            "sessions": [
                PlannedSession(
                    session_id=f"ses_{day}",
                    starts_at=MONDAY + timedelta(days=day),
                    ends_at=MONDAY + timedelta(days=day, hours=2),
                    status="scheduled",
                )
                for day in range(3)
            ],
            "changed_at": changed_at,
        }
        | fields
    )


def _calendar(content: ContentApi, community_id: str, start: str, end: str) -> list[dict[str, Any]]:
    response = content.get(
        f"/v1/communities/{community_id}/calendar", params={"from": start, "to": end}
    )
    assert response.status_code == 200, response.text
    return [e for e in response.json()["entries"] if e["kind"] == "activity_session"]


def test_sessions_are_on_the_calendar_and_the_latest_plan_wins(content: ContentApi) -> None:
    community_id = content.community(timezone="Asia/Shanghai")
    other = content.community(timezone="Asia/Shanghai")
    at = datetime(2026, 2, 20, tzinfo=UTC)

    def announce(plan: ActivityPlanned) -> None:
        content.apply(on_activity_planned, plan, workspace=WORKSPACE, community_id=community_id)

    announce(_plan(community_id, at))
    entries = _calendar(content, community_id, "2026-03-03T00:00:00", "2026-03-10T00:00:00")
    assert [(e["session_id"], e["local"][:16], e["status"]) for e in entries] == [
        ("ses_1", "2026-03-03T19:00", "scheduled"),
        ("ses_2", "2026-03-04T19:00", "scheduled"),
    ]
    assert entries[0]["title"] == "写作训练营" and entries[0]["activity_id"] == "act_camp"
    assert entries[0]["target"]["online_url"] == "https://meeting.example.com/camp"
    assert entries[0]["ends_utc"].startswith("2026-03-03T13:00")
    # A session under way when the window opens is still on it.
    assert [
        e["session_id"]
        for e in _calendar(content, community_id, "2026-03-02T20:00:00", "2026-03-02T23:00:00")
    ] == ["ses_0"]
    assert _calendar(content, other, "2026-03-01T00:00:00", "2026-03-10T00:00:00") == []

    moved = _plan(
        community_id,
        at + timedelta(hours=2),
        title="写作训练营（二期）",
        sessions=[
            PlannedSession(
                session_id="ses_1",
                starts_at=MONDAY + timedelta(days=1),
                ends_at=MONDAY + timedelta(days=1, hours=2),
                status="cancelled",
            )
        ],
    )
    announce(moved)
    announce(_plan(community_id, at + timedelta(hours=1)))  # older, arriving late: ignored
    announce(moved)  # delivered again: nothing changes
    entries = _calendar(content, community_id, "2026-03-01T00:00:00", "2026-03-10T00:00:00")
    assert [(e["session_id"], e["status"], e["title"]) for e in entries] == [
        ("ses_1", "cancelled", "写作训练营（二期）")
    ]

    announce(_plan(community_id, at + timedelta(hours=3), status="cancelled"))
    entries = _calendar(content, community_id, "2026-03-01T00:00:00", "2026-03-10T00:00:00")
    assert {e["status"] for e in entries} == {"cancelled"} and len(entries) == 3
