"""Feedback once per member, the activity report in JSON and Markdown, reminders 24 h and 1 h
before each session (none for a cancelled one), and the temporary group asked for and linked;
events checked on Kafka."""

from datetime import UTC, datetime, timedelta

import pytest

from services.common.contracts import FeedbackGiven
from services.common.periodic import run_job_once
from services.events.app import JOBS
from tests.integration.events.conftest import EventsApi, of_type

pytestmark = pytest.mark.integration

REMIND = next(j for j in JOBS if j.name == "send-reminders")


def test_feedback_and_the_report(events: EventsApi) -> None:
    cid = events.community()
    ann, bob, cat = (events.member(cid) for _ in range(3))
    start = datetime.now(UTC) + timedelta(hours=1)
    activity = events.open_activity(
        cid,
        kind="night_talk",
        title="夜话会",
        goal="激活沉默成员",
        capacity=2,
        starts_at=start.isoformat(),
        ends_at=(start + timedelta(hours=1)).isoformat(),
        kpi_targets={"attendance": 1, "registrations": 5, "nps": 0, "messages": 100},
        budget=[{"item": "奖品", "planned": 300, "spent": 0}],
    )
    aid = activity["id"]
    base = f"/v1/communities/{cid}/activities/{aid}"
    regs = [
        events.post(f"{base}/registrations", json={"member_id": m}).json() for m in (ann, bob, cat)
    ]
    events.post(
        f"{base}/sessions/{regs[0]['session_id']}/check-ins", json={"code": regs[0]["code"]}
    )
    events.patch(base, json={"budget": [{"item": "奖品", "planned": 300, "spent": 250}]})
    events.move(cid, aid, "closed", "running", "finished")

    given = events.post(
        f"{base}/feedback", json={"member_id": ann, "rating": 5, "nps": 10, "comment": "很好"}
    )
    assert given.status_code == 201, given.text
    events.post(f"{base}/feedback", json={"member_id": bob, "rating": 2, "nps": 3})
    again = events.post(f"{base}/feedback", json={"member_id": ann, "rating": 1})
    assert again.status_code == 409 and again.json()["feedback_id"] == given.json()["id"]
    assert events.post(f"{base}/feedback", json={"member_id": cat}).status_code == 422

    report = events.get(f"{base}/report").json()
    assert report["registrations"]["members_registered"] == 3
    assert report["registrations"]["waitlisted"] == 1
    assert (report["attendance"]["attended"], report["attendance"]["no_shows"]) == (1, 1)
    assert report["feedback"]["average_rating"] == 3.5 and report["feedback"]["nps"] == 0.0
    assert report["budget"]["spent"] == 250 and report["budget"]["remaining"] == 50
    assert report["messages"]["available"] is False
    kpis = {k["name"]: (k["result"], k["met"]) for k in report["kpis"]}
    assert kpis == {
        "attendance": (1, True),
        "registrations": (3, False),
        "nps": (0.0, True),
        "messages": (None, None),
    }
    markdown = events.get(f"{base}/report", params={"format": "markdown"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "# 夜话会" in markdown.text and "| 奖品 | 300 | 250 |" in markdown.text
    assert events.get(f"{base}/report", headers={"accept": "text/markdown"}).text == markdown.text
    events.move(cid, aid, "reported")

    published = events.published(expect=8)
    feedback = of_type(published, "feedback_given")
    assert [f["member_id"] for f in feedback] == [ann, bob]
    assert all(set(f) == set(FeedbackGiven.model_fields) for f in feedback)


def test_reminders_24h_and_1h_and_none_for_a_cancelled_session(events: EventsApi) -> None:
    cid = events.community()
    ann = events.member(cid)
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1, hours=12)
    activity = events.open_activity(
        cid,
        kind="reading_club",
        starts_at=first.isoformat(),
        ends_at=(first + timedelta(hours=1)).isoformat(),
        schedule={"rrule": "FREQ=DAILY;COUNT=2"},
    )
    base = f"/v1/communities/{cid}/activities/{activity['id']}"
    sessions = events.sessions(cid, activity["id"])
    events.post(f"{base}/registrations", json={"member_id": ann, "session_id": sessions[0]["id"]})
    cancelled = events.post(f"{base}/sessions/{sessions[1]['id']}/cancel")
    assert cancelled.status_code == 200

    assert run_job_once(events.engine, REMIND, first - timedelta(hours=30)) == 0
    assert run_job_once(events.engine, REMIND, first - timedelta(hours=23)) == 1
    assert run_job_once(events.engine, REMIND, first - timedelta(hours=22)) == 0
    assert run_job_once(events.engine, REMIND, first - timedelta(minutes=50)) == 1
    # The second session's day comes, but it was cancelled: no reminders for it.
    assert run_job_once(events.engine, REMIND, first + timedelta(hours=23, minutes=30)) == 0

    published = events.published(expect=5)
    reminders = of_type(published, "reminder_due")
    assert [(r["session_id"], r["lead"], r["member_ids"]) for r in reminders] == [
        (sessions[0]["id"], "24h", [ann]),
        (sessions[0]["id"], "1h", [ann]),
    ]
    assert [s["session_id"] for s in of_type(published, "session_cancelled")] == [sessions[1]["id"]]
    assert reminders[0]["recipients"] == [
        {"member_id": ann, "identities": [{"platform": "wechat", "external_id": ann}]}
    ]


def test_a_temporary_group_is_asked_for_and_registrants_invited(events: EventsApi) -> None:
    cid = events.community()
    ann = events.member(cid, external_id="wx_ann")
    activity = events.activity(
        cid, kind="training_camp", temporary_group={"platform": "wechat", "grace_hours": 48}
    )
    aid = activity["id"]
    events.move(cid, aid, "published", "registration_open")
    events.post(f"/v1/communities/{cid}/activities/{aid}/registrations", json={"member_id": ann})
    group = events.group(cid, external_id="wx_camp")
    linked = events.put(f"/v1/communities/{cid}/activities/{aid}/group", json={"group_id": group})
    assert linked.status_code == 200 and linked.json()["group_id"] == group
    assert (
        events.put(
            f"/v1/communities/{cid}/activities/{aid}/group", json={"group_id": "grp_nope"}
        ).status_code
        == 404
    )

    published = events.published(expect=3)
    (requested,) = of_type(published, "temporary_group_requested")
    assert requested["activity_id"] == aid and requested["platform"] == "wechat"
    assert requested["dissolve_at"].startswith("2030-06-03T13:00:00")  # 21:00 Shanghai + 48 h
    (invited,) = of_type(published, "group_invitation_requested")
    assert invited["member_id"] == ann and invited["group_external_id"] == "wx_camp"
    assert invited["identities"] == [{"platform": "wechat", "external_id": "wx_ann"}]
