"""Badges by rule and by hand, each held once, on real Postgres."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from services.common.periodic import run_job_once
from services.members.app import JOBS
from tests.integration.conftest import Outbox
from tests.integration.members.conftest import MembersApi

pytestmark = pytest.mark.integration

AWARDED = "io.qunyun.member.badge_awarded.v1"


def held(members: MembersApi, cid: str, mid: str) -> list[str]:
    return [
        a["badge_name"]
        for a in members.get(f"/v1/communities/{cid}/members/{mid}/badges").json()["data"]
    ]


def test_a_rule_badge_comes_by_itself_once_points_qualify(
    members: MembersApi, outbox: Outbox
) -> None:
    cid = members.community()["id"]
    created = members.post(
        f"/v1/communities/{cid}/badges",
        json={"name": "积分达人", "description": "100 points", "rule": {"min_points": 100}},
    )
    assert created.status_code == 201 and created.json()["rule"]["min_points"] == 100
    member = members.join(cid)
    path = f"/v1/communities/{cid}/members/{member['id']}/points"
    members.post(path, json={"amount": 99, "reason": "x"})
    assert held(members, cid, member["id"]) == []
    members.post(path, json={"amount": 1, "reason": "x"})
    assert held(members, cid, member["id"]) == ["积分达人"]
    members.post(path, json={"amount": 50, "reason": "x"})
    assert held(members, cid, member["id"]) == ["积分达人"]
    events = outbox.events(AWARDED)
    assert len(events) == 1 and events[0]["actor"] == "system" and events[0]["reason"] == "rule"


def test_the_sweep_awards_what_no_event_touched_and_only_to_current_members(
    members: MembersApi,
) -> None:
    cid = members.community()["id"]
    chatty, quiet, removed = members.join(cid), members.join(cid), members.join(cid)
    members.post(f"/v1/communities/{cid}/members/{removed['id']}/remove")
    with members.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE member SET message_count = 500 WHERE id IN (:a, :b)"),
            {"a": chatty["id"], "b": removed["id"]},
        )
    members.post(
        f"/v1/communities/{cid}/badges",
        json={"name": "话痨", "rule": {"min_messages": 500, "min_level": 2}},
    )
    members.post(
        f"/v1/communities/{cid}/badges", json={"name": "水群", "rule": {"min_messages": 100}}
    )
    job = next(j for j in JOBS if j.name == "badge-rules")
    assert run_job_once(members.engine, job, now=datetime.now(UTC)) == 1
    assert held(members, cid, chatty["id"]) == ["水群"]
    assert held(members, cid, quiet["id"]) == [] and held(members, cid, removed["id"]) == []
    members.post(
        f"/v1/communities/{cid}/members/{chatty['id']}/points", json={"amount": 5, "reason": "x"}
    )
    assert sorted(held(members, cid, chatty["id"])) == ["水群", "话痨"]
    assert run_job_once(members.engine, job, now=datetime.now(UTC)) == 0


def test_manual_awards_are_once_per_member(members: MembersApi, outbox: Outbox) -> None:
    cid = members.community()["id"]
    member = members.join(cid)
    badge = members.post(f"/v1/communities/{cid}/badges", json={"name": "最佳分享"}).json()
    assert badge["rule"] is None
    path = f"/v1/communities/{cid}/badges/{badge['id']}/awards"
    first = members.post(path, json={"member_id": member["id"], "reason": "夜话会分享"})
    again = members.post(path, json={"member_id": member["id"], "reason": "again"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["reason"] == "夜话会分享"
    assert first.json()["actor"] == "api_key:key_test"
    assert len(outbox.events(AWARDED)) == 1

    unknown = members.post(path, json={"member_id": "mbr_nobody", "reason": "x"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "member_id"
    gone = members.join(cid)
    members.post(f"/v1/communities/{cid}/members/{gone['id']}/ban")
    assert members.post(path, json={"member_id": gone["id"], "reason": "x"}).status_code == 409
    other = members.post(path, json={"member_id": member["id"], "reason": "x"}, workspace="ws_o")
    assert other.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "rule": {}},
        {"name": "x", "rule": {"min_points": 0}},
        {"name": "x", "rule": {"min_karma": 3}},
        {"name": ""},
    ],
)
def test_invalid_badges_are_422(members: MembersApi, body: dict) -> None:  # type: ignore[type-arg]
    cid = members.community()["id"]
    assert members.post(f"/v1/communities/{cid}/badges", json=body).status_code == 422
    assert members.get(f"/v1/communities/{cid}/badges").json()["data"] == []


def test_badge_names_are_unique_in_a_community(members: MembersApi) -> None:
    cid = members.community()["id"]
    assert members.post(f"/v1/communities/{cid}/badges", json={"name": "KOL"}).status_code == 201
    taken = members.post(f"/v1/communities/{cid}/badges", json={"name": "KOL"})
    assert taken.status_code == 409 and taken.json()["type"].endswith("/badge-name-taken")


def test_a_merge_moves_badges_without_doubling_them(members: MembersApi) -> None:
    cid = members.community()["id"]
    keep, dup = members.join(cid), members.join(cid)
    shared = members.post(f"/v1/communities/{cid}/badges", json={"name": "共有"}).json()
    only = members.post(f"/v1/communities/{cid}/badges", json={"name": "独有"}).json()
    for badge, who in ((shared, keep), (shared, dup), (only, dup)):
        members.post(
            f"/v1/communities/{cid}/badges/{badge['id']}/awards",
            json={"member_id": who["id"], "reason": "x"},
        )
    members.post(f"/v1/communities/{cid}/members/{keep['id']}/merge", json={"member_id": dup["id"]})
    assert sorted(held(members, cid, keep["id"])) == ["共有", "独有"]
