"""The points ledger, levels and leaderboards on real Postgres and Kafka."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.common.contracts import (
    AttendanceRecorded,
    ChallengeTierReached,
    CheckInRecorded,
    SubmissionAccepted,
)
from services.members.community.models import Member
from services.members.incentives.ledger import award
from services.members.incentives.models import PointsEntry
from tests.integration.conftest import Outbox
from tests.integration.members.conftest import MembersApi, eventually

pytestmark = pytest.mark.integration


def points_of(members: MembersApi, community_id: str, member_id: str) -> int:
    path = f"/v1/communities/{community_id}/members/{member_id}"
    return int(members.get(path).json()["points"])


def give(members: MembersApi, member_id: str, amount: int, at: datetime, source: str = "") -> None:
    with members.session() as session:
        member = session.get_one(Member, member_id)
        award(
            session=session,
            member=member,
            amount=amount,
            reason="test",
            source_id=source or uuid.uuid4().hex,
            at=at,
        )
        session.commit()


def test_check_ins_attendance_and_accepted_submissions_pay_once(members: MembersApi) -> None:
    community = members.community()
    cid = community["id"]
    member = members.join(cid)
    now = datetime.now(UTC)
    check_in = CheckInRecorded(
        member_id=member["id"],
        community_id=cid,
        challenge_id="chl_1",
        day="2026-03-01",
        streak=1,
        recorded_at=now,
    )
    events = [
        check_in,
        AttendanceRecorded(
            member_id=member["id"], community_id=cid, activity_id="act_1", recorded_at=now
        ),
        SubmissionAccepted(
            submission_id="sub_1", member_id=member["id"], community_id=cid, accepted_at=now
        ),
    ]
    for data in events:
        members.publish(data, community_id=cid)
    assert eventually(lambda: points_of(members, cid, member["id"]) == 5 + 20 + 30)

    # Redelivered, re-published under a new event id, for strangers: nothing more is paid.
    for data in events:
        members.publish(data, community_id=cid)
    members.publish(check_in.model_copy(update={"member_id": "mbr_nobody"}), community_id=cid)
    members.publish(check_in, community_id=cid, workspace="ws_other")
    marker = check_in.model_copy(update={"day": "2026-03-02"})
    members.publish(marker, community_id=cid)  # a new day pays: the consumer got this far
    assert eventually(lambda: points_of(members, cid, member["id"]) == 60)
    ledger = members.get(f"/v1/communities/{cid}/members/{member['id']}/points").json()
    assert sorted(e["reason"] for e in ledger["data"]) == [
        "accepted_submission",
        "attendance",
        "check_in",
        "check_in",
    ]
    assert ledger["total"] == 60 and ledger["level"] == 3 and ledger["next_level_at"] == 65


def test_a_challenge_tier_pays_its_points_and_badge_once(members: MembersApi) -> None:
    cid = members.community()["id"]
    member = members.join(cid)
    tier = ChallengeTierReached(
        challenge_id="chl_1",
        community_id=cid,
        member_id=member["id"],
        tier="7 days",
        days=7,
        points=70,
        badge="坚持一周",
        reached_at=datetime.now(UTC),
    )
    members.publish(tier, community_id=cid)
    members.publish(tier, community_id=cid)  # re-published under a new event id
    members.publish(tier.model_copy(update={"tier": "14 days", "badge": None}), community_id=cid)
    assert eventually(lambda: points_of(members, cid, member["id"]) == 140)
    badges = members.get(f"/v1/communities/{cid}/members/{member['id']}/badges").json()
    names = [b["badge_name"] for b in badges["data"]]
    assert names == ["坚持一周"]


def test_manual_adjustments_are_idempotent_bounded_and_never_below_zero(
    members: MembersApi,
) -> None:
    cid = members.community()["id"]
    member = members.join(cid)
    path = f"/v1/communities/{cid}/members/{member['id']}/points"
    key = {"Idempotency-Key": "adj-1"}
    first = members.post(path, json={"amount": 100, "reason": "KOL talk"}, headers=key)
    again = members.post(path, json={"amount": 100, "reason": "KOL talk"}, headers=key)
    assert first.status_code == 201 and again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.json()["total"] == 100 and first.json()["entry"]["note"] == "KOL talk"
    assert first.json()["entry"]["actor"] == "api_key:key_test"

    below = members.post(path, json={"amount": -101, "reason": "refund"})
    assert below.status_code == 422 and below.json()["type"].endswith("/insufficient-points")
    assert below.json()["balance"] == 100
    for amount in (0, 10_001, -10_001):
        bad = members.post(path, json={"amount": amount, "reason": "x"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "amount"
    assert members.post(path, json={"amount": 5, "reason": ""}).status_code == 422
    assert members.post(path, json={"amount": -100, "reason": "refund"}).json()["total"] == 0

    ledger = members.get(path, params={"limit": 1}).json()
    assert ledger["total"] == 0 and ledger["level"] == 1
    assert [e["amount"] for e in ledger["data"]] == [-100]
    rest = members.get(path, params={"limit": 5, "cursor": ledger["next_cursor"]}).json()
    assert [e["amount"] for e in rest["data"]] == [100] and rest["next_cursor"] is None
    other = members.post(path, json={"amount": 5, "reason": "x"}, workspace="ws_other")
    assert other.status_code == 404


def test_level_ups_are_announced_and_thresholds_can_change(
    members: MembersApi, outbox: Outbox
) -> None:
    cid = members.community()["id"]
    member = members.join(cid)
    path = f"/v1/communities/{cid}/members/{member['id']}/points"
    members.post(path, json={"amount": 4, "reason": "x"})
    members.post(path, json={"amount": 20, "reason": "x"})  # 24: level 3, straight past 2
    reached = outbox.events("io.qunyun.member.level_reached.v1")
    assert [(e["member_id"], e["level"], e["points"]) for e in reached] == [(member["id"], 3, 24)]
    assert members.post(path, json={"amount": -10, "reason": "x"}).json()["level"] == 2
    assert len(outbox.events("io.qunyun.member.level_reached.v1")) == 1  # falls are silent

    low = members.join(cid)
    members.post(
        f"/v1/communities/{cid}/members/{low['id']}/points", json={"amount": 3, "reason": "x"}
    )
    members.patch(
        f"/v1/communities/{cid}/settings", json={"levels": {"thresholds": [0, 3, 10, 50]}}
    )
    result = members.post(f"/v1/communities/{cid}/levels/recompute").json()
    assert result == {"raised": 2, "lowered": 0}
    levels = {
        m["id"]: m["level"] for m in members.get(f"/v1/communities/{cid}/members").json()["data"]
    }
    assert levels == {member["id"]: 3, low["id"]: 2}
    assert len(outbox.events("io.qunyun.member.level_reached.v1")) == 3

    members.patch(f"/v1/communities/{cid}/settings", json={"levels": {"thresholds": [0, 100]}})
    assert members.post(f"/v1/communities/{cid}/levels/recompute").json() == {
        "raised": 0,
        "lowered": 2,
    }
    assert members.post(f"/v1/communities/{cid}/levels/recompute").json() == {
        "raised": 0,
        "lowered": 0,
    }


def test_leaderboards_rank_points_in_the_period_among_current_members(
    members: MembersApi,
) -> None:
    cid = members.community(timezone="Asia/Shanghai")["id"]
    a, b, c, gone = (members.join(cid, display_name=n) for n in ("阿", "贝", "车", "走"))
    now = datetime.now(UTC)
    give(members, a["id"], 10, now - timedelta(hours=1))
    give(members, a["id"], 100, now - timedelta(days=40))
    give(members, b["id"], 30, now - timedelta(days=10))
    give(members, c["id"], 10, now - timedelta(days=2))
    give(members, gone["id"], 1000, now - timedelta(days=1))
    members.post(f"/v1/communities/{cid}/members/{gone['id']}/remove")

    def board(period: str, **params: Any) -> list[tuple[int, str, int]]:
        response = members.get(
            f"/v1/communities/{cid}/leaderboard", params={"period": period, **params}
        )
        assert response.status_code == 200, response.text
        return [(s["rank"], s["display_name"], s["points"]) for s in response.json()["data"]]

    assert board("7d") == [(1, "阿", 10), (2, "车", 10)]  # a tie goes to the earlier member
    assert board("30d") == [(1, "贝", 30), (2, "阿", 10), (3, "车", 10)]
    assert board("all") == [(1, "阿", 110), (2, "贝", 30), (3, "车", 10)]
    assert board("all", limit=1) == [(1, "阿", 110)]
    assert (
        members.get(f"/v1/communities/{cid}/leaderboard", params={"period": "1y"}).status_code
        == 422
    )
    assert (
        members.get(f"/v1/communities/{cid}/leaderboard", workspace="ws_other").status_code == 404
    )


def test_a_merge_moves_the_ledger_and_the_total(members: MembersApi) -> None:
    cid = members.community()["id"]
    keep, dup = members.join(cid), members.join(cid)
    now = datetime.now(UTC)
    give(members, keep["id"], 15, now, source="s1")
    give(members, dup["id"], 10, now, source="s2")
    members.post(f"/v1/communities/{cid}/members/{keep['id']}/merge", json={"member_id": dup["id"]})
    ledger = members.get(f"/v1/communities/{cid}/members/{keep['id']}/points").json()
    assert ledger["total"] == 25 == sum(e["amount"] for e in ledger["data"])
    assert ledger["level"] == 3
    give(members, keep["id"], 10, now, source="s2")  # the merged record's source paid already
    assert points_of(members, cid, keep["id"]) == 25


awards = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d", "e"]), st.integers(-50, 50)),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=awards)
def test_property_the_total_is_the_sum_of_entries_and_a_source_pays_once(
    members: MembersApi, sequence: list[tuple[str, int]]
) -> None:
    cid = members.community()["id"]
    member_id = members.join(cid)["id"]
    paid: dict[str, int] = {}
    for source, amount in sequence:
        with members.session() as session:
            member = session.get_one(Member, member_id)
            entry = award(
                session=session, member=member, amount=amount, reason="test", source_id=source
            )
            credited = entry.amount if entry is not None else None
            session.commit()
        if amount != 0 and source not in paid:
            paid[source] = amount
            assert credited == amount
        else:
            assert credited is None
    with members.session() as session:
        entries = session.execute(
            sa.select(PointsEntry.source_id, PointsEntry.amount).where(
                PointsEntry.member_id == member_id
            )
        ).all()
        total = session.get_one(Member, member_id).points
    assert dict(entries) == paid and len(entries) == len(paid)
    assert total == sum(paid.values())
