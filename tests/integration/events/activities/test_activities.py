"""Activities: the lifecycle and its 409s, sessions from an RRULE across DST with exceptions,
hosts and plan changes announced whole, and eligibility; on real Postgres and Kafka."""

import pytest

from services.common.contracts import MemberLevelReached
from tests.integration.events.conftest import NOW, EventsApi, of_type

pytestmark = pytest.mark.integration


def test_lifecycle_runs_in_order_and_impossible_steps_are_409(events: EventsApi) -> None:
    cid = events.community()
    activity = events.activity(cid, kind="night_talk", goal="拉新", kpi_targets={"attendance": 30})
    aid = activity["id"]
    assert activity["status"] == "draft"
    path = f"/v1/communities/{cid}/activities/{aid}/transitions"

    wrong = events.post(path, json={"to": "running"})
    assert wrong.status_code == 409
    problem = wrong.json()
    assert problem["type"].endswith("/invalid-activity-transition")
    assert problem["current"] == "draft" and problem["allowed"] == ["cancelled", "published"]

    body = events.move(cid, aid, "published", "registration_open", "closed", "running", "finished")
    assert body["status"] == "finished"
    assert events.post(path, json={"to": "cancelled"}).status_code == 409
    assert events.move(cid, aid, "reported")["status"] == "reported"
    late = events.patch(f"/v1/communities/{cid}/activities/{aid}", json={"title": "x"})
    assert late.status_code == 409 and late.json()["type"].endswith("/activity-not-editable")


def test_cancelling_tells_registrants_through_an_event(events: EventsApi) -> None:
    cid = events.community()
    ann, bob = events.member(cid), events.member(cid)
    activity = events.open_activity(cid, capacity=1)
    path = f"/v1/communities/{cid}/activities/{activity['id']}"
    for member in (ann, bob):
        assert events.post(f"{path}/registrations", json={"member_id": member}).status_code == 201
    events.move(cid, activity["id"], "cancelled")

    published = events.published(expect=3)
    cancelled = of_type(published, "cancelled")
    assert len(cancelled) == 1
    assert sorted(cancelled[0]["member_ids"]) == sorted([ann, bob])
    regs = events.get(f"{path}/registrations").json()["data"]
    assert {r["status"] for r in regs} == {"cancelled"}
    assert {s["status"] for s in events.sessions(cid, activity["id"])} == {"cancelled"}


def test_weekly_sessions_keep_local_time_across_dst_and_skip_exceptions(events: EventsApi) -> None:
    cid = events.community(timezone="Europe/Berlin")
    activity = events.activity(
        cid,
        kind="reading_club",
        starts_at="2026-10-14T19:30:00",
        ends_at="2026-10-14T20:30:00",
        schedule={"rrule": "FREQ=WEEKLY;BYDAY=WE;COUNT=4", "exceptions": ["2026-10-21"]},
    )
    sessions = events.sessions(cid, activity["id"])
    assert [s["local_date"] for s in sessions] == ["2026-10-14", "2026-10-28", "2026-11-04"]
    # 19:30 in Berlin is 17:30 UTC in summer time and 18:30 UTC after 25 October.
    assert [s["starts_at"][11:16] for s in sessions] == ["17:30", "18:30", "18:30"]
    assert all(s["ends_at"][11:16] == f"{int(s['starts_at'][11:13]) + 1}:30" for s in sessions)


@pytest.mark.parametrize(
    "schedule",
    [
        {"rrule": "FREQ=WEEKLY"},
        {"rrule": "NOT A RULE"},
        {"rrule": "FREQ=DAILY;COUNT=1", "exceptions": ["2030-06-01"]},
    ],
)
def test_bad_schedules_are_422(events: EventsApi, schedule: dict[str, object]) -> None:
    cid = events.community()
    response = events.post(
        f"/v1/communities/{cid}/activities",
        json={
            "kind": "talk",
            "title": "x",
            "starts_at": "2030-06-01T19:30:00",
            "ends_at": "2030-06-01T20:00:00",
            "schedule": schedule,
        },
    )
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("/invalid-schedule")


def test_eligibility_names_the_failed_condition(events: EventsApi) -> None:
    cid = events.community()
    kol = events.member(cid, role="kol")
    plain = events.member(cid)
    activity = events.open_activity(
        cid, eligibility={"roles_any": ["kol", "expert"], "min_level": 0}
    )
    path = f"/v1/communities/{cid}/activities/{activity['id']}/registrations"

    refused = events.post(path, json={"member_id": plain})
    assert refused.status_code == 403
    assert refused.json()["condition"] == "role-not-allowed"
    stranger = events.post(path, json={"member_id": "mbr_nobody"})
    assert stranger.status_code == 403 and stranger.json()["condition"] == "not-a-member"
    assert events.post(path, json={"member_id": kol}).status_code == 201

    events.feed(
        MemberLevelReached(member_id=plain, community_id=cid, level=1, points=5, reached_at=NOW),
        community_id=cid,
    )
    levelled = events.open_activity(cid, eligibility={"min_level": 2})
    low = events.post(
        f"/v1/communities/{cid}/activities/{levelled['id']}/registrations",
        json={"member_id": plain},
    )
    assert low.status_code == 403 and low.json()["condition"] == "level-too-low"


def test_hosts_must_be_members_and_plans_change_until_finished(events: EventsApi) -> None:
    cid = events.community()
    expert = events.member(cid, role="expert")
    bad = events.post(
        f"/v1/communities/{cid}/activities",
        json={
            "kind": "ama",
            "title": "x",
            "starts_at": "2030-06-01T19:30:00",
            "ends_at": "2030-06-01T20:00:00",
            "hosts": [{"member_id": "mbr_x"}],
        },
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "hosts.0.member_id"
    activity = events.activity(
        cid,
        kind="ama",
        hosts=[{"member_id": expert, "role": "expert"}],
        budget=[{"item": "场地", "planned": 500}],
    )
    changed = events.patch(
        f"/v1/communities/{cid}/activities/{activity['id']}",
        json={"budget": [{"item": "场地", "planned": 500, "spent": 420}]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["budget"] == [{"item": "场地", "planned": 500.0, "spent": 420.0}]
    assert changed.json()["starts_at"].startswith("2030-06-01T11:30:00")  # 19:30 in Shanghai


def test_each_change_of_a_published_plan_is_announced_whole(events: EventsApi) -> None:
    cid = events.community(timezone="Europe/Berlin")
    activity = events.activity(
        cid,
        kind="reading_club",
        place="中关村书店",
        starts_at="2026-10-14T19:30:00",
        ends_at="2026-10-14T20:30:00",
        schedule={"rrule": "FREQ=WEEKLY;BYDAY=WE;COUNT=3"},
    )
    aid = activity["id"]
    path = f"/v1/communities/{cid}/activities/{aid}"
    assert events.patch(path, json={"title": "读书会（草稿）"}).status_code == 200  # a draft: quiet
    events.move(cid, aid, "published")
    assert events.patch(path, json={"place": "线上"}).status_code == 200
    first = events.sessions(cid, aid)[0]
    assert events.post(f"{path}/sessions/{first['id']}/cancel").status_code == 200
    events.move(cid, aid, "cancelled")

    plans = [data for _, data in events.published(expect=4, plans=True)]
    assert [(p["status"], p["place"]) for p in plans] == [
        ("published", "中关村书店"),
        ("published", "线上"),
        ("published", "线上"),
        ("cancelled", "线上"),
    ]
    assert all(p["title"] == "读书会（草稿）" and p["activity_id"] == aid for p in plans)
    assert [[s["status"] for s in p["sessions"]] for p in plans] == [
        ["scheduled"] * 3,
        ["scheduled"] * 3,
        ["cancelled", "scheduled", "scheduled"],
        ["cancelled"] * 3,
    ]
    assert [s["starts_at"][11:16] for s in plans[0]["sessions"]] == ["17:30", "17:30", "18:30"]
    assert plans == sorted(plans, key=lambda p: p["changed_at"])
