"""Referrals and referral campaigns on real Postgres and Kafka, decided by the job at chosen
times."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.common.contracts import MemberJoined
from services.common.ids import new_id
from services.common.periodic import run_job_once
from services.members.app import JOBS
from services.members.referrals.models import CampaignReward
from tests.integration.conftest import Outbox
from tests.integration.members.conftest import MembersApi, eventually

pytestmark = pytest.mark.integration

DECIDE = next(j for j in JOBS if j.name == "referral-decisions")
SWEEP = next(j for j in JOBS if j.name == "referral-campaign-rewards")


def invited_by(members: MembersApi, cid: str, mid: str) -> list[dict[str, Any]]:
    page = members.get(f"/v1/communities/{cid}/members/{mid}/referrals", params={"limit": 200})
    return page.json()["data"]  # type: ignore[no-any-return]


def invite(members: MembersApi, cid: str, referrer: dict[str, Any], n: int = 1) -> list[dict]:  # type: ignore[type-arg]
    before = len(invited_by(members, cid, referrer["id"]))
    joined = [members.join(cid, invite_code=referrer["invite_code"]) for _ in range(n)]
    assert eventually(lambda: len(invited_by(members, cid, referrer["id"])) == before + n)
    return joined


def onboard(members: MembersApi, *people: dict[str, Any], at: datetime | None = None) -> None:
    with members.engine.begin() as conn:
        for person in people:
            conn.execute(
                sa.text("UPDATE member SET onboarded_at = :at WHERE id = :id"),
                {"at": at or datetime.now(UTC), "id": person["id"]},
            )


def decide(members: MembersApi, after: timedelta) -> int | None:
    return run_job_once(members.engine, DECIDE, now=datetime.now(UTC) + after)


def member(members: MembersApi, cid: str, mid: str) -> dict[str, Any]:
    return members.get(f"/v1/communities/{cid}/members/{mid}").json()  # type: ignore[no-any-return]


def joined_again(invitee: dict[str, Any], referrer_id: str) -> MemberJoined:
    return MemberJoined(
        member_id=invitee["id"],
        community_id=invitee["community_id"],
        display_name=invitee["display_name"],
        identities=[],
        joined_at=datetime.fromisoformat(invitee["joined_at"]),
        referred_by=referrer_id,
    )


def test_an_invitee_who_onboards_and_stays_credits_the_referrer_once(
    members: MembersApi, outbox: Outbox
) -> None:
    cid = members.community()["id"]
    referrer = members.join(cid, display_name="老王")
    (invitee,) = invite(members, cid, referrer)
    [pending] = invited_by(members, cid, referrer["id"])
    assert pending["state"] == "pending" and pending["invitee_id"] == invitee["id"]
    onboard(members, invitee)

    assert decide(members, timedelta(days=6)) == 0
    assert decide(members, timedelta(days=8)) == 1
    assert decide(members, timedelta(days=9)) == 0
    [done] = invited_by(members, cid, referrer["id"])
    assert done["state"] == "succeeded" and done["decided_at"]
    after = member(members, cid, referrer["id"])
    assert after["points"] == 50 and after["stage"] == "referring"
    [event] = outbox.events("io.qunyun.referral.succeeded.v1")
    assert event["referrer_id"] == referrer["id"] and event["points"] == 50

    # The join redelivered, then a marker join: still one referral, paid once.
    members.publish(joined_again(invitee, referrer["id"]), community_id=cid)
    invite(members, cid, referrer)
    first, _marker = invited_by(members, cid, referrer["id"])
    assert first["invitee_id"] == invitee["id"] and first["state"] == "succeeded"
    chain = members.get(f"/v1/communities/{cid}/members/{invitee['id']}/referral-chain").json()
    assert [(c["depth"], c["display_name"]) for c in chain["chain"]] == [(1, "老王")]


def test_leaving_early_or_not_onboarding_earns_nothing_leaving_later_does_not_matter(
    members: MembersApi,
    outbox: Outbox,
) -> None:
    cid = members.community()["id"]
    referrer = members.join(cid)
    lazy, quitter, banned, stayed_long_enough = invite(members, cid, referrer, 4)
    onboard(members, quitter, banned, stayed_long_enough)
    members.post(f"/v1/communities/{cid}/members/{quitter['id']}/remove")
    members.post(f"/v1/communities/{cid}/members/{banned['id']}/ban")
    # This one joined 10 days ago, onboarded, and left only yesterday: after its 7 days.
    now = datetime.now(UTC)
    with members.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE referral SET joined_at = :j, due_at = :d WHERE invitee_id = :id"),
            {
                "j": now - timedelta(days=10),
                "d": now - timedelta(days=3),
                "id": stayed_long_enough["id"],
            },
        )
        conn.execute(
            sa.text("UPDATE member SET onboarded_at = :at WHERE id = :id"),
            {"at": now - timedelta(days=9), "id": stayed_long_enough["id"]},
        )
    members.post(f"/v1/communities/{cid}/members/{stayed_long_enough['id']}/remove")

    # A departure decides at once what it can: the two who left early and the one whose
    # period was over; only the one who never onboarded waits for its due time.
    assert eventually(
        lambda: sum(r["state"] != "pending" for r in invited_by(members, cid, referrer["id"])) == 3
    )
    assert decide(members, timedelta(days=8)) == 1
    states = {
        r["invitee_id"]: (r["state"], r["failure_reason"])
        for r in invited_by(members, cid, referrer["id"])
    }
    assert states == {
        lazy["id"]: ("failed", "not_onboarded"),
        quitter["id"]: ("failed", "left_early"),
        banned["id"]: ("failed", "left_early"),
        stayed_long_enough["id"]: ("succeeded", None),
    }
    assert member(members, cid, referrer["id"])["points"] == 50
    failed = outbox.events("io.qunyun.referral.failed.v1")
    assert sorted(e["reason"] for e in failed) == ["left_early", "left_early", "not_onboarded"]
    only_failed = members.get(
        f"/v1/communities/{cid}/members/{referrer['id']}/referrals", params={"state": "failed"}
    ).json()["data"]
    assert len(only_failed) == 3


def test_with_no_waiting_period_the_referral_succeeds_when_the_invitee_onboards(
    members: MembersApi, outbox: Outbox
) -> None:
    settings = {
        "referrals": {"success_after_days": 0},
        "onboarding": {"required_intro_fields": ["intro"], "require_rules_acknowledgement": False},
    }
    cid = members.community(settings=settings)["id"]
    referrer = members.join(cid)
    (invitee,) = invite(members, cid, referrer)
    assert invited_by(members, cid, referrer["id"])[0]["state"] == "pending"

    path = f"/v1/communities/{cid}/members/{invitee['id']}/onboarding"
    assert members.post(path, json={"intro": "做后端"}).json()["onboarded"] is True

    # No job runs: the invitee's onboarding decides it.
    assert eventually(lambda: invited_by(members, cid, referrer["id"])[0]["state"] == "succeeded")
    assert member(members, cid, referrer["id"])["points"] == 50
    assert [e["invitee_id"] for e in outbox.events("io.qunyun.referral.succeeded.v1")] == [
        invitee["id"]
    ]


def test_inviting_oneself_earns_nothing(members: MembersApi) -> None:
    cid = members.community()["id"]
    loner = members.join(cid)
    members.publish(joined_again(loner, loner["id"]), community_id=cid)
    assert eventually(lambda: invited_by(members, cid, loner["id"]))
    [own] = invited_by(members, cid, loner["id"])
    assert (own["state"], own["failure_reason"]) == ("failed", "self_invite")

    # Two records of one person: a pending referral between them fails when they merge, and a
    # credited one is taken back.
    referrer = members.join(cid)
    pending_alt, credited_alt = invite(members, cid, referrer, 2)
    onboard(members, credited_alt, at=datetime.now(UTC) - timedelta(days=2))
    with members.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE referral SET due_at = now() - interval '1 day' WHERE invitee_id = :id"),
            {"id": credited_alt["id"]},
        )
    assert decide(members, timedelta(0)) == 1
    assert member(members, cid, referrer["id"])["points"] == 50
    for alt in (pending_alt, credited_alt):
        merged = members.post(
            f"/v1/communities/{cid}/members/{referrer['id']}/merge", json={"member_id": alt["id"]}
        )
        assert merged.status_code == 200, merged.text
    states = {(r["state"], r["failure_reason"]) for r in invited_by(members, cid, referrer["id"])}
    assert states == {("failed", "self_invite")}
    assert member(members, cid, referrer["id"])["points"] == 0
    assert decide(members, timedelta(days=30)) == 0


def test_the_chain_goes_up_to_the_root_within_a_bound(members: MembersApi) -> None:
    cid = members.community()["id"]
    people = [members.join(cid, display_name="A")]
    for name in "BCD":
        people.append(members.join(cid, display_name=name, invite_code=people[-1]["invite_code"]))
    path = f"/v1/communities/{cid}/members/{people[-1]['id']}/referral-chain"
    assert eventually(lambda: len(members.get(path).json()["chain"]) == 3)
    chain = members.get(path).json()
    assert [(c["depth"], c["display_name"]) for c in chain["chain"]] == [
        (1, "C"),
        (2, "B"),
        (3, "A"),
    ]
    assert chain["truncated"] is False
    members.patch(f"/v1/communities/{cid}/settings", json={"referrals": {"chain_max_depth": 2}})
    short = members.get(path).json()
    assert [c["display_name"] for c in short["chain"]] == ["C", "B"] and short["truncated"]
    root = members.get(f"/v1/communities/{cid}/members/{people[0]['id']}/referral-chain").json()
    assert root["chain"] == []
    assert members.get(path, workspace="ws_other").status_code == 404


def test_a_campaign_rewards_exactly_once_however_often_things_run(
    members: MembersApi, outbox: Outbox
) -> None:
    cid = members.community()["id"]
    referrer = members.join(cid)
    (early,) = invite(members, cid, referrer)
    badge = members.post(f"/v1/communities/{cid}/badges", json={"name": "裂变之星"}).json()
    start = datetime.now(UTC)
    body = {
        "name": "邀请2人得100积分",
        "invites_required": 2,
        "reward": {"points": 100, "badge_id": badge["id"], "tag": "裂变达人"},
        "starts_at": start.isoformat(),
    }
    created = members.post(
        f"/v1/communities/{cid}/referral-campaigns", json=body, headers={"Idempotency-Key": "c1"}
    )
    assert created.status_code == 201, created.text
    campaign = created.json()
    progress_path = f"/v1/communities/{cid}/referral-campaigns/{campaign['id']}/progress"
    invitees = invite(members, cid, referrer, 2)
    onboard(members, early, *invitees)
    progress = members.get(progress_path, params={"member_id": referrer["id"]}).json()
    assert (progress["successes"], progress["pending"], progress["rewarded_at"]) == (0, 2, None)

    assert decide(members, timedelta(days=8)) == 3
    for _ in range(2):
        assert decide(members, timedelta(days=9)) == 0
        assert run_job_once(members.engine, SWEEP, now=datetime.now(UTC)) == 0
    for invitee in invitees:
        members.publish(joined_again(invitee, referrer["id"]), community_id=cid)
    invite(members, cid, members.join(cid))  # a marker: the redeliveries were consumed

    progress = members.get(progress_path, params={"member_id": referrer["id"]}).json()
    assert progress["successes"] == 2 and progress["rewarded_at"] is not None
    assert member(members, cid, referrer["id"])["points"] == 3 * 50 + 100
    [rewarded] = outbox.events("io.qunyun.referral.campaign_rewarded.v1")
    assert rewarded["member_id"] == referrer["id"] and rewarded["successes"] == 2
    held = members.get(f"/v1/communities/{cid}/members/{referrer['id']}/badges").json()["data"]
    assert [b["badge_name"] for b in held] == ["裂变之星"]
    with members.engine.connect() as conn:
        tagged = conn.execute(
            sa.text(
                "SELECT t.name, t.category FROM member_tag mt JOIN tag t ON t.id = mt.tag_id "
                "WHERE mt.member_id = :m"
            ),
            {"m": referrer["id"]},
        ).all()
    assert [tuple(t) for t in tagged] == [("裂变达人", "custom")]

    # A campaign defined after the fact is caught up by the sweep, once.
    late = members.post(
        f"/v1/communities/{cid}/referral-campaigns",
        json=body
        | {
            "name": "补发",
            "invites_required": 3,
            "reward": {"points": 7},
            "starts_at": (start - timedelta(days=1)).isoformat(),
        },
    ).json()
    assert run_job_once(members.engine, SWEEP, now=datetime.now(UTC)) == 1
    assert run_job_once(members.engine, SWEEP, now=datetime.now(UTC)) == 0
    assert member(members, cid, referrer["id"])["points"] == 3 * 50 + 100 + 7
    late_progress = members.get(
        f"/v1/communities/{cid}/referral-campaigns/{late['id']}/progress",
        params={"member_id": referrer["id"]},
    ).json()
    assert late_progress["successes"] == 3


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"invites_required": 0}, "invites_required"),
        ({"reward": {}}, "reward"),
        ({"reward": {"badge_id": "bdg_nope"}}, "reward.badge_id"),
        ({"reward": {"tag": "  "}}, "reward.tag"),
        ({"ends_at": "2020-01-01T00:00:00+00:00"}, "ends_at"),
        ({"starts_at": "2026-01-01T00:00:00"}, "starts_at"),
    ],
)
def test_invalid_campaigns_are_422_naming_the_field(
    members: MembersApi,
    change: dict,
    field: str,  # type: ignore[type-arg]
) -> None:
    cid = members.community()["id"]
    body = {
        "name": "c",
        "invites_required": 2,
        "reward": {"points": 10},
        "starts_at": "2026-01-01T00:00:00+08:00",
    } | change
    response = members.post(f"/v1/communities/{cid}/referral-campaigns", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert members.get(f"/v1/communities/{cid}/referral-campaigns").json() == {
        "data": [],
        "next_cursor": None,
    }


# ---- the campaign reward as a property -----------------------------------------------------

steps = st.lists(st.sampled_from(["decide", "sweep", "redecide"]), min_size=1, max_size=6)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    outcomes=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=0, max_size=4),
    required=st.integers(1, 3),
    sequence=steps,
)
def test_property_each_campaign_reward_is_granted_at_most_once(
    members: MembersApi,
    outcomes: list[tuple[bool, bool]],
    required: int,
    sequence: list[str],
) -> None:
    """Referrals (inside or before the window, onboarded or not) decided and swept in any
    order and as often as you like: rewarded once iff enough succeeded inside the window."""
    cid = members.community()["id"]
    referrer = members.join(cid)
    now = datetime.now(UTC)
    start = now - timedelta(days=20)
    campaign = members.post(
        f"/v1/communities/{cid}/referral-campaigns",
        json={
            "name": "p",
            "invites_required": required,
            "reward": {"points": 1000},
            "starts_at": start.isoformat(),
        },
    ).json()
    with members.engine.begin() as conn:
        for inside, onboarded in outcomes:
            invitee = members.join(cid)
            joined = start + timedelta(days=1 if inside else -1)
            conn.execute(
                sa.text(
                    "INSERT INTO referral (id, workspace_id, community_id, referrer_id, "
                    "invitee_id, state, joined_at, due_at, created_at) VALUES "
                    "(:id, 'ws_test', :cid, :r, :i, 'pending', :j, :d, now())"
                ),
                {
                    "id": new_id("ref"),
                    "cid": cid,
                    "r": referrer["id"],
                    "i": invitee["id"],
                    "j": joined,
                    "d": joined + timedelta(days=7),
                },
            )
            if onboarded:
                conn.execute(
                    sa.text("UPDATE member SET onboarded_at = :at WHERE id = :id"),
                    {"at": joined + timedelta(hours=1), "id": invitee["id"]},
                )
    for step in sequence:
        if step == "sweep":
            run_job_once(members.engine, SWEEP, now=now)
        else:
            run_job_once(members.engine, DECIDE, now=now)
        if step == "redecide":  # as if a pass was retried: decided referrals pending again
            with members.engine.begin() as conn:
                conn.execute(
                    sa.text("UPDATE referral SET state = 'pending' WHERE referrer_id = :r"),
                    {"r": referrer["id"]},
                )
    run_job_once(members.engine, DECIDE, now=now)
    earned = sum(1 for inside, onboarded in outcomes if inside and onboarded)
    with members.engine.connect() as conn:
        rewards = conn.execute(
            sa.select(sa.func.count())
            .select_from(CampaignReward)
            .where(
                CampaignReward.campaign_id == campaign["id"]  # type: ignore[arg-type]
            )
        ).scalar_one()
        paid = conn.execute(
            sa.text(
                "SELECT count(*) FROM points_entry WHERE reason = 'campaign_reward' "
                "AND member_id = :r"
            ),
            {"r": referrer["id"]},
        ).scalar_one()
    assert rewards == paid == (1 if earned >= required else 0)
    credited = sum(1 for _, onboarded in outcomes if onboarded)
    assert member(members, cid, referrer["id"])["points"] == 50 * credited + 1000 * paid
