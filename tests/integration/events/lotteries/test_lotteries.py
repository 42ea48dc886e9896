"""Lottery draws: eligibility (checked in, tags, level), caps, no duplicate winners unless
allowed, and a draw recomputed from its record gives the same winners; on real Postgres and
Kafka."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.contracts import MemberTagged
from tests.integration.events.conftest import EventsApi, of_type

pytestmark = pytest.mark.integration


def _meetup_with_attendance(
    events: EventsApi, cid: str, members: list[str], present: int
) -> tuple[str, str]:
    start = datetime.now(UTC) + timedelta(hours=1)
    activity = events.open_activity(
        cid,
        kind="meetup",
        starts_at=start.isoformat(),
        ends_at=(start + timedelta(hours=2)).isoformat(),
    )
    base = f"/v1/communities/{cid}/activities/{activity['id']}"
    sid = ""
    for i, member in enumerate(members):
        reg = events.post(f"{base}/registrations", json={"member_id": member}).json()
        sid = reg["session_id"]
        if i < present:
            checked = events.post(f"{base}/sessions/{sid}/check-ins", json={"member_id": member})
            assert checked.status_code == 201, checked.text
    return activity["id"], base


def test_a_draw_is_reproducible_from_its_record(events: EventsApi) -> None:
    cid = events.community()
    members = [events.member(cid) for _ in range(12)]
    _, base = _meetup_with_attendance(events, cid, members, present=10)
    body: dict[str, Any] = {
        "prizes": [
            {"name": "书", "quantity": 3, "weight": 1},
            {"name": "耳机", "quantity": 1, "weight": 3},
        ],
        "requires": "checked_in",
    }
    drawn = events.post(f"{base}/draws", json=body)
    assert drawn.status_code == 201, drawn.text
    record = drawn.json()
    assert record["algorithm"] == "qunyun-draw-v1" and len(record["seed"]) == 32
    assert sorted(e["member_id"] for e in record["eligible"]) == sorted(members[:10])
    winners = record["winners"]
    assert len(winners) == 4 and len({w["member_id"] for w in winners}) == 4
    assert sorted(w["prize"] for w in winners) == ["书", "书", "书", "耳机"]

    verified = events.get(f"{base}/draws/{record['id']}/verify").json()
    assert verified["matches"] is True and verified["recomputed"] == winners

    # The same seed and entrants draw the same winners; earlier winners have no win left.
    again = events.post(f"{base}/draws", json=body | {"seed": record["seed"]}).json()
    assert {w["member_id"] for w in again["winners"]}.isdisjoint({w["member_id"] for w in winners})
    assert len(again["eligible"]) == 6

    published = events.published(expect=24)
    completed = of_type(published, "draw_completed")
    assert [c["draw_id"] for c in completed] == [record["id"], again["id"]]
    assert completed[0]["winners"] == winners and completed[0]["seed"] == record["seed"]


def test_duplicates_caps_and_conditions(events: EventsApi) -> None:
    cid = events.community()
    ann, bob = events.member(cid), events.member(cid)
    events.feed(
        MemberTagged(
            member_id=ann,
            community_id=cid,
            tag_id="t1",
            tag_name="VIP",
            category="spending",
            tagged_at=datetime.now(UTC),
        ),
        community_id=cid,
    )
    _, base = _meetup_with_attendance(events, cid, [ann, bob], present=2)
    tagged = events.post(
        f"{base}/draws", json={"prizes": [{"name": "券", "quantity": 5}], "tags_any": ["VIP"]}
    ).json()
    assert [w["member_id"] for w in tagged["winners"]] == [ann]

    many = events.post(
        f"{base}/draws",
        json={
            "prizes": [{"name": "券", "quantity": 10}],
            "allow_duplicate_winners": True,
            "per_member_cap": 3,
            "per_day_cap": 2,
        },
    ).json()
    won: dict[str, int] = {}
    for w in many["winners"]:
        won[w["member_id"]] = won.get(w["member_id"], 0) + 1
    # Ann won once already today: the day cap leaves her one; Bob may win two.
    assert won == {ann: 1, bob: 2}
    empty = events.post(
        f"{base}/draws",
        json={
            "prizes": [{"name": "券", "quantity": 1}],
            "per_day_cap": 2,
            "allow_duplicate_winners": True,
            "per_member_cap": 3,
        },
    )
    assert empty.status_code == 409 and empty.json()["type"].endswith("/nothing-to-draw")
    assert events.get(f"{base}/draws/{many['id']}/verify").json()["matches"] is True
