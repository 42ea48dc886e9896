"""Places in groups on real Postgres and Kafka: the filling order, under concurrency, places
held for newcomers and their expiry, bot-reported joins and leaves, operators' records and
merged members."""

import concurrent.futures
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.contracts import GroupMemberJoined, GroupMemberLeft
from services.common.periodic import run_job_once
from services.members.community import members as community_members
from services.members.community import service
from services.members.groups import capacity
from tests.integration.conftest import Outbox
from tests.integration.members.conftest import MembersApi, eventually
from tests.integration.members.groups.calls import assign, named_job, register_group

pytestmark = pytest.mark.integration


def test_assignments_fill_groups_in_order_mark_them_full_and_then_say_add_aregister_group(
    members: MembersApi,
    outbox: Outbox,
) -> None:
    cid = members.community()["id"]
    first = register_group(members, cid, external_id="wx_first", capacity=2)
    second = register_group(members, cid, external_id="wx_second", capacity=2)
    people = [members.join(cid)["id"] for _ in range(5)]

    placed = [assign(members, cid, p) for p in people[:4]]
    assert [r.status_code for r in placed] == [201] * 4
    assert [r.json()["group_id"] for r in placed] == [first["id"]] * 2 + [second["id"]] * 2
    assignment = placed[0].json()
    assert assignment["status"] == "open" and assignment["member_id"] == people[0]
    assert assignment["group_external_id"] == "wx_first" and assignment["platform"] == "wechat"
    held_for = datetime.fromisoformat(assignment["expires_at"]) - datetime.fromisoformat(
        assignment["created_at"]
    )
    assert held_for == timedelta(hours=48)

    again = assign(members, cid, people[0])
    assert again.status_code == 200 and again.json()["id"] == assignment["id"]

    refused = assign(members, cid, people[4])
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/no-group-capacity")
    assert "Add a group" in refused.json()["detail"] and refused.json()["groups"] == 2

    g1 = members.get(f"/v1/communities/{cid}/groups/{first['id']}").json()
    assert (g1["state"], g1["held_places"], g1["room"]) == ("full", 2, 0)
    full = outbox.starting("io.qunyun.group.full")
    assert [(e["external_id"], e["next_group_id"]) for e in full] == [
        ("wx_first", second["id"]),
        ("wx_second", None),
    ]
    sent = outbox.starting("io.qunyun.member.assigned_to_group")
    assert len(sent) == 4
    assert sent[0]["group_external_id"] == "wx_first" and sent[0]["identities"][0]["platform"]

    # Operators add a group; newcomers go there.
    third = register_group(members, cid, external_id="wx_third", capacity=2)
    assert assign(members, cid, people[4]).json()["group_id"] == third["id"]


def test_fifty_concurrent_assignments_fill_groups_of_ten_exactly_in_order(
    members: MembersApi,
    outbox: Outbox,
) -> None:
    cid = members.community()["id"]
    ids = [register_group(members, cid, capacity=10)["id"] for _ in range(5)]
    people = [members.join(cid)["id"] for _ in range(60)]

    def place(batch: list[str]) -> list[Any]:
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            return list(pool.map(lambda p: assign(members, cid, p), batch))

    # Half the places, all at once: the first groups fill completely, the last stay empty.
    half = place(people[:25])
    assert all(r.status_code == 201 for r in half)
    by_group = Counter(r.json()["group_id"] for r in half)
    assert [by_group[g] for g in ids] == [10, 10, 5, 0, 0]

    rest = place(people[25:])
    assert sorted(r.status_code for r in rest) == [201] * 25 + [409] * 10
    assert all(
        r.json()["type"].endswith("/no-group-capacity") for r in rest if r.status_code == 409
    )
    by_group += Counter(r.json()["group_id"] for r in rest if r.status_code == 201)
    assert [by_group[g] for g in ids] == [10] * 5
    listed = members.get(f"/v1/communities/{cid}/groups").json()["data"]
    assert [(g["held_places"], g["state"]) for g in listed] == [(10, "full")] * 5
    assert len(outbox.starting("io.qunyun.group.full")) == 5


def test_fifty_at_once_into_groups_of_ten_leave_the_sixth_group_empty(members: MembersApi) -> None:
    cid = members.community()["id"]
    ids = [register_group(members, cid, capacity=10)["id"] for _ in range(6)]
    people = [members.join(cid)["id"] for _ in range(50)]
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        placed = list(pool.map(lambda p: assign(members, cid, p), people))
    assert [r.status_code for r in placed] == [201] * 50
    by_group = Counter(r.json()["group_id"] for r in placed)
    assert [by_group[g] for g in ids] == [10, 10, 10, 10, 10, 0]


def test_places_of_no_shows_expire_and_go_to_the_next_newcomer(members: MembersApi) -> None:
    cid = members.community(settings={"groups": {"assignment_ttl_hours": 24}})["id"]
    first = register_group(members, cid, capacity=1)
    second = register_group(members, cid, capacity=1)
    no_show, other, late = (members.join(cid)["id"] for _ in range(3))
    held = assign(members, cid, no_show).json()
    assert assign(members, cid, other).json()["group_id"] == second["id"]
    assert assign(members, cid, late).status_code == 409

    later = datetime.now(UTC) + timedelta(hours=25)
    with members.session() as session:
        community = service.get_community(session=session, workspace_id="ws_test", community_id=cid)
        member = community_members.get_member(
            session=session, workspace_id="ws_test", community_id=cid, member_id=late
        )
        assignment, created = capacity.assign(
            session=session,
            community=community,
            member=member,
            segment_id=None,
            include_temporary=False,
            at=later,
        )
        session.commit()
        assert created and assignment.group_id == first["id"]

    expire = named_job("expire-group-assignments")
    assert run_job_once(members.engine, expire, now=datetime.now(UTC)) == 0
    assert run_job_once(members.engine, expire, now=later) == 2
    shown = members.get(f"/v1/communities/{cid}/group-assignments/{held['id']}").json()
    assert shown["status"] == "expired"
    assert datetime.fromisoformat(shown["closed_at"]) == datetime.fromisoformat(held["expires_at"])
    expired = members.get(
        f"/v1/communities/{cid}/group-assignments", params={"status": "expired"}
    ).json()["data"]
    assert {a["member_id"] for a in expired} == {no_show, other}


def test_a_removed_or_banned_member_gives_back_the_place_held_for_them(members: MembersApi) -> None:
    cid = members.community()["id"]
    group = register_group(members, cid, capacity=2)
    banned, removed, waiting = (members.join(cid)["id"] for _ in range(3))
    held = {m: assign(members, cid, m).json()["id"] for m in (banned, removed)}
    assert assign(members, cid, waiting).status_code == 409
    members.post(f"/v1/communities/{cid}/members/{banned}/ban", json={"reason": "ads"})
    members.post(f"/v1/communities/{cid}/members/{removed}/remove")

    def status(member_id: str) -> str:
        path = f"/v1/communities/{cid}/group-assignments/{held[member_id]}"
        return str(members.get(path).json()["status"])

    # Freed by the consumer, from the status_changed events.
    assert eventually(lambda: status(banned) == status(removed) == "cancelled")
    assert members.get(f"/v1/communities/{cid}/groups/{group['id']}").json()["state"] == "filling"
    assert assign(members, cid, waiting).json()["group_id"] == group["id"]


def test_segment_and_temporary_groups_take_only_assignments_meant_for_them(
    members: MembersApi,
) -> None:
    cid = members.community()["id"]
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    small = register_group(members, cid, capacity=3, segment_id="seg_vip")
    night = register_group(members, cid, capacity=3, kind="temporary", dissolve_at=soon)
    main = register_group(members, cid, capacity=3)
    a, b, c = (members.join(cid)["id"] for _ in range(3))
    assert assign(members, cid, a).json()["group_id"] == main["id"]
    assert assign(members, cid, b, segment_id="seg_vip").json()["group_id"] == small["id"]
    assert assign(members, cid, c, include_temporary=True).json()["group_id"] == night["id"]
    d = members.join(cid)["id"]
    nowhere = assign(members, cid, d, segment_id="seg_other")
    assert nowhere.status_code == 409 and nowhere.json()["groups"] == 0


def test_bots_reported_joins_and_leaves_keep_membership_and_state_true(
    members: MembersApi,
    outbox: Outbox,
) -> None:
    cid = members.community()["id"]
    group = register_group(members, cid, external_id="wx_room", capacity=2)
    invitee = members.join(cid, "wx_alice")
    place = assign(members, cid, invitee["id"]).json()
    base = f"/v1/communities/{cid}/groups/{group['id']}"
    t0 = datetime.now(UTC)

    def report(kind: type, who: str, at: datetime, group_external_id: str = "wx_room") -> None:
        members.publish(
            kind(
                platform="wechat",
                group_external_id=group_external_id,
                sender_external_id=who,
                sender_display_name=who,
                occurred_at=at,
            ),
            community_id=None,
        )

    report(GroupMemberJoined, "wx_nobody", t0, group_external_id="wx_unknown_group")
    report(GroupMemberJoined, "wx_alice", t0)
    report(GroupMemberJoined, "wx_bob", t0 + timedelta(seconds=1))  # not yet a member

    def roster() -> list[str]:
        return [m["display_name"] for m in members.get(f"{base}/members").json()["data"]]

    assert eventually(lambda: len(roster()) == 2), roster()
    assert sorted(roster()) == ["wx_bob", "成员"]
    fulfilled = members.get(f"/v1/communities/{cid}/group-assignments/{place['id']}").json()
    assert fulfilled["status"] == "fulfilled"
    assert members.get(base).json()["state"] == "full"
    assert len(outbox.starting("io.qunyun.member.joined.v1")) == 2  # alice, then bob by the bot
    assert all(
        g["external_id"] != "wx_unknown_group"
        for g in members.get(f"/v1/communities/{cid}/groups").json()["data"]
    )

    report(GroupMemberLeft, "wx_alice", t0 + timedelta(minutes=5))
    # A join from before the leave arrives late: it must not put her back.
    report(GroupMemberJoined, "wx_alice", t0 + timedelta(minutes=1))
    assert eventually(lambda: members.get(base).json()["state"] == "filling")
    late_marker = uuid.uuid4().hex
    report(GroupMemberJoined, late_marker, t0 + timedelta(minutes=6))
    assert eventually(lambda: late_marker in roster())
    assert "成员" not in roster()
    everyone = members.get(f"{base}/members", params={"include_left": True}).json()["data"]
    alice = next(m for m in everyone if m["member_id"] == invitee["id"])
    assert alice["left_at"] is not None


def test_operators_record_membership_within_capacity(members: MembersApi) -> None:
    cid = members.community()["id"]
    group = register_group(members, cid, capacity=2)
    base = f"/v1/communities/{cid}/groups/{group['id']}/members"
    a, b, c = (members.join(cid)["id"] for _ in range(3))
    assert assign(members, cid, c).json()["group_id"] == group["id"]

    assert members.post(f"{base}/{a}").status_code == 201
    assert members.post(f"{base}/{a}").status_code == 200
    full = members.post(f"{base}/{b}")
    assert full.status_code == 409 and full.json()["type"].endswith("/group-full")
    assert members.post(f"{base}/{c}").status_code == 201  # her place was held
    assert members.get(f"/v1/communities/{cid}/groups/{group['id']}").json()["members"] == 2

    assert members.delete(f"{base}/{a}").status_code == 204
    assert members.delete(f"{base}/{a}").status_code == 204
    assert [m["member_id"] for m in members.get(base).json()["data"]] == [c]
    assert members.post(f"{base}/{b}").status_code == 201

    banned = members.join(cid)["id"]
    members.post(f"/v1/communities/{cid}/members/{banned}/ban")
    refused = assign(members, cid, banned)
    assert refused.status_code == 409 and refused.json()["type"].endswith("/member-not-assignable")


def test_merging_members_merges_their_memberships_and_places(members: MembersApi) -> None:
    cid = members.community()["id"]
    group = register_group(members, cid, capacity=5)
    spare = register_group(members, cid, capacity=5)
    keep, old = members.join(cid)["id"], members.join(cid, platform="qq")["id"]
    members.post(f"/v1/communities/{cid}/groups/{group['id']}/members/{keep}")
    members.post(f"/v1/communities/{cid}/groups/{group['id']}/members/{old}")
    members.post(f"/v1/communities/{cid}/groups/{spare['id']}/members/{old}")
    merged = members.post(f"/v1/communities/{cid}/members/{keep}/merge", json={"member_id": old})
    assert merged.status_code == 200, merged.text
    for g in (group, spare):
        roster = members.get(f"/v1/communities/{cid}/groups/{g['id']}/members").json()["data"]
        assert [m["member_id"] for m in roster] == [keep]
