"""The activity report in JSON and Markdown, with the feedback it counts taken once per member;
the feedback events checked on Kafka."""

from datetime import UTC, datetime, timedelta

import pytest

from services.common.contracts import FeedbackGiven
from tests.integration.events.conftest import EventsApi, of_type

pytestmark = pytest.mark.integration


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

    published = events.published(expect=7)
    feedback = of_type(published, "feedback_given")
    assert [f["member_id"] for f in feedback] == [ann, bob]
    assert all(set(f) == set(FeedbackGiven.model_fields) for f in feedback)
