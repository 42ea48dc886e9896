"""Reminders 24 h and 1 h before each session, none for a cancelled one; events checked on
Kafka."""

from datetime import UTC, datetime, timedelta

import pytest

from services.common.periodic import run_job_once
from services.events.app import JOBS
from tests.integration.events.conftest import EventsApi, of_type

pytestmark = pytest.mark.integration

REMIND = next(j for j in JOBS if j.name == "send-reminders")


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

    published = events.published(expect=4)
    reminders = of_type(published, "reminder_due")
    assert [(r["session_id"], r["lead"], r["member_ids"]) for r in reminders] == [
        (sessions[0]["id"], "24h", [ann]),
        (sessions[0]["id"], "1h", [ann]),
    ]
    assert [s["session_id"] for s in of_type(published, "session_cancelled")] == [sessions[1]["id"]]
    assert reminders[0]["recipients"] == [
        {"member_id": ann, "identities": [{"platform": "wechat", "external_id": ann}]}
    ]
