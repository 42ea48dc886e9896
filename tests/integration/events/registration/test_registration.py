"""Registration under 100-way contention, the waiting list in arrival order, promotions,
offers that lapse and pass on, idempotency, and registrations pushed by bots; on real
Postgres and Kafka."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from services.common.contracts import MemberStatusChanged, RegistrationRequested
from services.common.periodic import run_job_once
from services.events.app import JOBS
from tests.integration.events.conftest import EventsApi, eventually, of_type

pytestmark = pytest.mark.integration

LAPSE = next(j for j in JOBS if j.name == "lapse-offers")


def _path(cid: str, aid: str) -> str:
    return f"/v1/communities/{cid}/activities/{aid}/registrations"


def test_100_concurrent_registrations_for_10_seats(events: EventsApi) -> None:
    cid = events.community()
    members = [events.member(cid) for _ in range(100)]
    activity = events.open_activity(cid, capacity=10)
    path = _path(cid, activity["id"])

    with ThreadPoolExecutor(max_workers=100) as pool:
        answers = list(pool.map(lambda m: events.post(path, json={"member_id": m}), members))
    assert [a.status_code for a in answers] == [201] * 100, {a.text for a in answers}
    regs = [a.json() for a in answers]
    confirmed = [r for r in regs if r["status"] == "confirmed"]
    waiting = sorted((r for r in regs if r["status"] == "waitlisted"), key=lambda r: r["arrival"])
    assert (len(confirmed), len(waiting)) == (10, 90)
    # Arrival numbers are handed out under the session's lock: every confirmed place went to
    # an earlier arrival than any waiting member, and the waiting list is in arrival order.
    assert max(r["arrival"] for r in confirmed) < waiting[0]["arrival"]
    assert len({r["arrival"] for r in regs}) == 100
    listed = events.get(path, params={"status": "waitlisted", "limit": 200}).json()["data"]
    assert [r["id"] for r in listed] == [r["id"] for r in waiting]
    assert [r["waitlist_position"] for r in listed] == list(range(1, 91))
    assert events.sessions(cid, activity["id"])[0]["taken"] == 10

    # Three cancellations promote the first three waiting, in arrival order.
    for reg in confirmed[:3]:
        cancelled = events.post(f"{path}/{reg['id']}/cancel", json={"reason": "member"})
        assert cancelled.status_code == 200, cancelled.text
    promoted_ids = [r["id"] for r in waiting[:3]]
    for rid in promoted_ids:
        assert events.get(f"{path}/{rid}").json()["status"] == "confirmed"
    assert events.get(f"{path}/{waiting[3]['id']}").json()["waitlist_position"] == 1
    assert events.sessions(cid, activity["id"])[0]["taken"] == 10

    published = events.published(expect=106)
    assert len(of_type(published, "registered")) == 10
    waitlisted = of_type(published, "waitlisted")
    assert len(waitlisted) == 90
    assert sorted(e["position"] for e in waitlisted) == list(range(1, 91))
    assert len(of_type(published, "registration_cancelled")) == 3
    promoted = of_type(published, "promoted")
    assert [e["registration_id"] for e in promoted] == promoted_ids
    assert {e["via"] for e in promoted} == {"waitlist"}


def test_registering_twice_answers_the_same_registration(events: EventsApi) -> None:
    cid = events.community()
    ann = events.member(cid)
    activity = events.open_activity(cid, capacity=5)
    path = _path(cid, activity["id"])
    first = events.post(path, json={"member_id": ann})
    again = events.post(path, json={"member_id": ann})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    # Cancelled, then registering again: a new arrival at the end of the queue.
    events.post(f"{path}/{first.json()['id']}/cancel", json={})
    back = events.post(path, json={"member_id": ann})
    assert back.status_code == 201 and back.json()["arrival"] > first.json()["arrival"]


def test_registration_is_refused_outside_its_window(events: EventsApi) -> None:
    cid = events.community()
    ann = events.member(cid)
    draft = events.activity(cid)
    closed = events.post(_path(cid, draft["id"]), json={"member_id": ann})
    assert closed.status_code == 409 and closed.json()["type"].endswith("/registration-closed")
    later = events.open_activity(cid, registration_opens_at="2030-05-01T00:00:00")
    early = events.post(_path(cid, later["id"]), json={"member_id": ann})
    assert early.status_code == 409 and "opens at" in early.json()["detail"]


def test_an_offer_that_lapses_passes_to_the_next(events: EventsApi) -> None:
    cid = events.community()
    ann, bob, cat = (events.member(cid) for _ in range(3))
    activity = events.open_activity(cid, capacity=1, offer_hours=2)
    path = _path(cid, activity["id"])
    a, b, c = (events.post(path, json={"member_id": m}).json() for m in (ann, bob, cat))
    assert [a["status"], b["status"], c["status"]] == ["confirmed", "waitlisted", "waitlisted"]

    events.post(f"{path}/{a['id']}/cancel", json={})
    offered = events.get(f"{path}/{b['id']}").json()
    assert offered["status"] == "offered" and offered["offer_expires_at"]
    assert events.get(f"{path}/{c['id']}").json()["waitlist_position"] == 1

    # Not yet lapsed: nothing happens. Three hours later: Bob's offer expires, Cat's begins.
    assert run_job_once(events.engine, LAPSE, datetime.now(UTC)) == 0
    assert run_job_once(events.engine, LAPSE, datetime.now(UTC) + timedelta(hours=3)) == 1
    assert events.get(f"{path}/{b['id']}").json()["status"] == "offer_expired"
    assert events.get(f"{path}/{c['id']}").json()["status"] == "offered"
    late = events.post(f"{path}/{b['id']}/accept")
    assert late.status_code == 409
    accepted = events.post(f"{path}/{c['id']}/accept")
    assert accepted.status_code == 200 and accepted.json()["status"] == "confirmed"

    published = events.published(expect=8)
    assert [e["member_id"] for e in of_type(published, "place_offered")] == [bob, cat]
    assert [e["member_id"] for e in of_type(published, "offer_expired")] == [bob]
    assert [(e["member_id"], e["via"]) for e in of_type(published, "promoted")] == [(cat, "offer")]


def test_bots_register_members_and_hear_refusals(events: EventsApi) -> None:
    cid = events.community()
    events.group(cid, external_id="wx_group_1")
    ann = events.member(cid, external_id="wx_ann")
    activity = events.open_activity(cid, capacity=5, eligibility={"min_level": 0})
    now = datetime.now(UTC)
    for sender in ("wx_ann", "wx_stranger"):
        events.publish(
            RegistrationRequested(
                platform="wechat",
                group_external_id="wx_group_1",
                sender_external_id=sender,
                occurred_at=now,
                activity_id=activity["id"],
            ),
            community_id=None,
        )
    path = _path(cid, activity["id"])
    regs = eventually(lambda: events.get(path).json()["data"])
    assert [(r["member_id"], r["source"]) for r in regs] == [(ann, "bot")]
    published = events.published(expect=2)
    assert [e["member_id"] for e in of_type(published, "registered")] == [ann]
    refused = of_type(published, "inbound_request_refused")
    assert [(e["sender_external_id"], e["reason"]) for e in refused] == [
        ("wx_stranger", "not-a-member")
    ]


def test_more_seats_and_members_who_leave_pass_places_on(events: EventsApi) -> None:
    cid = events.community()
    ann, bob, cat, dan = (events.member(cid) for _ in range(4))
    activity = events.open_activity(cid, capacity=1)
    path = _path(cid, activity["id"])
    a, b, c, d = (events.post(path, json={"member_id": m}).json() for m in (ann, bob, cat, dan))
    assert [r["status"] for r in (a, b, c, d)] == [
        "confirmed",
        "waitlisted",
        "waitlisted",
        "waitlisted",
    ]

    more = events.patch(f"/v1/communities/{cid}/activities/{activity['id']}", json={"capacity": 2})
    assert more.status_code == 200, more.text
    assert events.get(f"{path}/{b['id']}").json()["status"] == "confirmed"
    fewer = events.patch(f"/v1/communities/{cid}/activities/{activity['id']}", json={"capacity": 1})
    assert fewer.status_code == 409 and fewer.json()["type"].endswith("/capacity-below-taken")

    # Cat is removed from the community while waiting, then Ann: her place goes to Dan.
    now = datetime.now(UTC)
    for member in (cat, ann):
        events.feed(
            MemberStatusChanged(
                member_id=member,
                community_id=cid,
                from_status="active",
                to_status="removed",
                actor="op",
                reason=None,
                until=None,
                identities=[],
                changed_at=now,
            ),
            community_id=cid,
        )
    assert events.get(f"{path}/{a['id']}").json()["status"] == "cancelled"
    assert events.get(f"{path}/{c['id']}").json()["status"] == "cancelled"
    assert events.get(f"{path}/{d['id']}").json()["status"] == "confirmed"

    published = events.published(expect=8)
    cancelled = of_type(published, "registration_cancelled")
    assert [(e["member_id"], e["was"], e["reason"]) for e in cancelled] == [
        (cat, "waitlisted", "left_community"),
        (ann, "confirmed", "left_community"),
    ]
    assert [e["member_id"] for e in of_type(published, "promoted")] == [bob, dan]
