"""Check-in (签到): single-use codes, check-in by member, walk-ins, no-shows when a session
ends, and `attendance_recorded` exactly as its contract reads; on real Postgres and Kafka."""

from datetime import UTC, datetime, timedelta

import pytest

from services.common.contracts import AttendanceRecorded
from services.common.periodic import run_job_once
from services.events.app import JOBS
from tests.integration.events.conftest import EventsApi, of_type

pytestmark = pytest.mark.integration

CLOSE = next(j for j in JOBS if j.name == "close-ended-sessions")


def _soon(events: EventsApi, cid: str, **fields: object) -> dict[str, object]:
    start = datetime.now(UTC) + timedelta(hours=1)
    return events.open_activity(
        cid,
        kind="meetup",
        starts_at=start.isoformat(),
        ends_at=(start + timedelta(hours=2)).isoformat(),
        **fields,
    )


def test_codes_are_single_use_and_no_shows_are_marked(events: EventsApi) -> None:
    cid = events.community()
    ann, bob, dan, cat = (events.member(cid) for _ in range(4))
    activity = _soon(events, cid, capacity=3)
    aid = activity["id"]
    base = f"/v1/communities/{cid}/activities/{aid}"
    regs = {
        m: events.post(f"{base}/registrations", json={"member_id": m}).json()
        for m in (ann, bob, dan)
    }
    sid = regs[ann]["session_id"]
    checkins = f"{base}/sessions/{sid}/check-ins"

    first = events.post(checkins, json={"code": regs[ann]["code"]})
    assert first.status_code == 201, first.text
    second = events.post(checkins, json={"code": regs[ann]["code"]})
    assert second.status_code == 409
    assert second.json()["type"].endswith("/already-checked-in")
    assert second.json()["checked_in_at"] == first.json()["checked_in_at"].replace("Z", "+00:00")
    assert events.post(checkins, json={"member_id": bob}).status_code == 201
    stranger = events.post(checkins, json={"member_id": cat})
    assert stranger.status_code == 409 and stranger.json()["type"].endswith("/not-registered")
    assert events.post(checkins, json={"code": "nope"}).status_code == 404
    both = events.post(checkins, json={"code": "x", "member_id": ann})
    assert both.status_code == 422
    listed = events.get(checkins).json()["data"]
    assert [c["member_id"] for c in listed] == [ann, bob]

    # The periodic job closes the session once its end has passed: Dan is a no-show.
    assert run_job_once(events.engine, CLOSE, datetime.now(UTC) + timedelta(hours=4)) == 1
    dan_reg = events.get(f"{base}/registrations/{regs[dan]['id']}").json()
    assert dan_reg["no_show"] is True
    assert events.get(f"{base}/registrations/{regs[ann]['id']}").json()["no_show"] is False

    published = events.published(expect=6)
    attendance = of_type(published, "attendance_recorded")
    assert [a["member_id"] for a in attendance] == [ann, bob]
    for data in attendance:
        # Exactly the contract's fields, and it parses as the contract members consumes.
        assert set(data) == set(AttendanceRecorded.model_fields)
        parsed = AttendanceRecorded.model_validate(data)
        assert (parsed.community_id, parsed.activity_id) == (cid, aid)
    assert [e["member_id"] for e in of_type(published, "no_show_recorded")] == [dan]


def test_walk_ins_when_the_activity_allows_them(events: EventsApi) -> None:
    cid = events.community()
    ann = events.member(cid)
    activity = _soon(events, cid, capacity=1, walk_ins=True)
    sid = events.sessions(cid, activity["id"])[0]["id"]
    path = f"/v1/communities/{cid}/activities/{activity['id']}/sessions/{sid}/check-ins"
    walked = events.post(path, json={"member_id": ann})
    assert walked.status_code == 201, walked.text
    assert walked.json()["walk_in"] is True
    assert events.sessions(cid, activity["id"])[0]["taken"] == 0


def test_finishing_the_activity_closes_its_sessions(events: EventsApi) -> None:
    cid = events.community()
    ann = events.member(cid)
    activity = _soon(events, cid)
    base = f"/v1/communities/{cid}/activities/{activity['id']}"
    reg = events.post(f"{base}/registrations", json={"member_id": ann}).json()
    events.move(cid, activity["id"], "closed", "running", "finished")
    assert events.get(f"{base}/registrations/{reg['id']}").json()["no_show"] is True
    assert events.sessions(cid, activity["id"])[0]["status"] == "ended"
