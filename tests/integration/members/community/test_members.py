"""Communities, entry thresholds, leads, states, merges: the members core on real Postgres."""

import concurrent.futures
from datetime import UTC, datetime, timedelta

import pytest

from services.common.periodic import run_job_once
from services.members.app import JOBS
from tests.integration.conftest import Outbox
from tests.integration.members.conftest import MembersApi, eventually

pytestmark = pytest.mark.integration


def test_a_community_starts_from_its_purposes_defaults_and_settings_merge(
    members: MembersApi,
) -> None:
    community = members.community(purpose="paid_knowledge")
    path = f"/v1/communities/{community['id']}/settings"
    settings = members.get(path).json()
    assert settings["entry"]["policy"] == "paid"
    assert settings["levels"]["thresholds"] == [0, 5, 20, 65, 155, 515, 2015, 8015, 33015]
    assert settings["groups"]["default_capacity"]["wechat"] == 500

    changed = members.patch(
        path, json={"points": {"message": 2}, "outreach": {"daily_friend_request_cap": 10}}
    )
    assert changed.status_code == 200
    assert changed.json()["points"] == settings["points"] | {"message": 2}
    assert changed.json()["outreach"]["daily_friend_request_cap"] == 10


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"levels": {"thresholds": [5, 10]}}, "levels"),  # a rule over the merged result
        ({"lifecycle": {"active_days": 30, "active_window_days": 7}}, "lifecycle"),
        ({"points": {"message": -1}}, "points.message"),
        ({"points": {"message": True}}, "points.message"),  # a number, not a boolean
        ({"entry": {"policy": "lottery"}}, "entry.policy"),
        ({"entry": {"policy": None}}, "entry.policy"),  # left out changes nothing; null is refused
        ({"entry": None}, "entry"),
        (
            {"moderation": {"ad_windows": [{"weekday": 1, "start": "09:00"}]}},
            "moderation.ad_windows.0.end",
        ),
        ({"onboarding": {"chase_after_hour": 3}}, "onboarding.chase_after_hour"),
        ({"no_such_section": {}}, "no_such_section"),
    ],
)
def test_invalid_settings_are_a_422_naming_the_field_and_change_nothing(
    members: MembersApi,
    patch: dict,
    field: str,  # type: ignore[type-arg]
) -> None:
    community = members.community()
    path = f"/v1/communities/{community['id']}/settings"
    before = members.get(path).json()
    response = members.patch(path, json=patch)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}, response.json()
    assert members.get(path).json() == before


def test_creating_with_wrong_settings_names_the_field_under_settings(members: MembersApi) -> None:
    body = {"name": "c", "purpose": "interest", "timezone": "UTC"}
    for settings, field in (
        ({"points": {"mesage": 2}}, "settings.points.mesage"),
        ({"levels": {"thresholds": [3]}}, "settings.levels"),
    ):
        response = members.post("/v1/communities", json=body | {"settings": settings})
        assert response.status_code == 422
        assert field in {e["field"] for e in response.json()["errors"]}, response.json()


def test_the_document_shows_every_setting_of_the_settings_patch(members: MembersApi) -> None:
    from services.members.community.settings import CommunitySettings

    document = members.get("/openapi.json").json()
    operation = document["paths"]["/v1/communities/{community_id}/settings"]["patch"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schemas = document["components"]["schemas"]
    patch = schemas[ref.rsplit("/", 1)[1]]
    assert ref.endswith("/CommunitySettingsPatch")
    assert patch["additionalProperties"] is False
    assert set(patch["properties"]) == set(CommunitySettings.model_fields)
    for name, section in CommunitySettings.model_fields.items():
        section_ref = patch["properties"][name]["$ref"]
        documented = schemas[section_ref.rsplit("/", 1)[1]]
        assert set(documented["properties"]) == set(section.annotation.model_fields)  # type: ignore[union-attr]
        assert "required" not in documented
        assert documented["additionalProperties"] is False
    # Ranges and enums come with them; null is not offered where it would be refused.
    points = schemas["PointsRulesPatch"]["properties"]
    assert points["manual_adjustment_max"]["maximum"] == 10_000_000
    assert "default" not in points["message"] and "anyOf" not in points["message"]


def test_communities_list_in_pages_and_only_the_callers(members: MembersApi) -> None:
    ids = [members.community(name=f"c{n}")["id"] for n in range(5)]
    members.post(
        "/v1/communities",
        workspace="ws_other",
        json={"name": "x", "purpose": "brand", "timezone": "UTC"},
    )
    first = members.get("/v1/communities", params={"limit": 3}).json()
    second = members.get(
        "/v1/communities", params={"limit": 3, "cursor": first["next_cursor"]}
    ).json()
    assert [c["id"] for c in first["data"] + second["data"]] == ids
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("entry", "body", "problem"),
    [
        ({"policy": "invite_code"}, {}, "invite-code-required"),
        ({"policy": "invite_code"}, {"invite_code": "NOPE"}, "invalid-invite-code"),
        ({"policy": "paid"}, {}, "payment-required"),
        (
            {"policy": "questionnaire", "questions": ["why?", "who?"]},
            {"answers": ["because"]},
            "questionnaire-incomplete",
        ),
    ],
)
def test_entry_thresholds_refuse_who_does_not_meet_them(
    members: MembersApi, entry: dict, body: dict, problem: str
) -> None:  # type: ignore[type-arg]
    community = members.community(settings={"entry": entry})
    response = members.post(
        f"/v1/communities/{community['id']}/members",
        json={"display_name": "x", "identities": [{"platform": "qq", "external_id": "1"}], **body},
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith(problem)
    assert members.get(f"/v1/communities/{community['id']}/members").json()["data"] == []


def test_entry_thresholds_admit_who_meets_them(members: MembersApi, outbox: Outbox) -> None:
    open_one = members.community()
    referrer = members.join(open_one["id"])
    assert referrer["status"] == "active" and len(referrer["invite_code"]) == 8

    by_code = members.community(settings={"entry": {"policy": "invite_code", "codes": ["VIP2026"]}})
    assert members.join(by_code["id"], invite_code="VIP2026")["status"] == "active"

    referred = members.join(open_one["id"], invite_code=referrer["invite_code"].lower())
    assert referred["referred_by"] == referrer["id"]

    paid = members.community(purpose="paid_knowledge")
    assert members.join(paid["id"], payment_reference="wxpay-123")["status"] == "active"

    asking = members.community(
        settings={"entry": {"policy": "questionnaire", "questions": ["why?"]}}
    )
    applicant = members.join(asking["id"], answers=["to learn"])
    assert applicant["status"] == "pending" and applicant["joined_at"] is None
    approved = members.post(f"/v1/communities/{asking['id']}/members/{applicant['id']}/approve")
    assert approved.json()["status"] == "active" and approved.json()["joined_at"]
    assert "io.qunyun.member.applied.v1" in outbox.types()


def test_concurrent_joins_with_one_identity_make_one_member(members: MembersApi) -> None:
    community = members.community()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: members.join(community["id"], "wx_racer"), range(8)))
    assert len({r["id"] for r in results}) == 1
    assert len(members.get(f"/v1/communities/{community['id']}/members").json()["data"]) == 1


def test_a_join_with_identities_of_two_members_is_a_409_naming_both(members: MembersApi) -> None:
    community = members.community()
    first = members.join(community["id"], "wx_first")
    second = members.join(community["id"], "wx_second")
    response = members.post(
        f"/v1/communities/{community['id']}/members",
        json={
            "display_name": "两个人",
            "identities": [
                {"platform": "wechat", "external_id": "wx_first"},
                {"platform": "wechat", "external_id": "wx_second"},
            ],
        },
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/identities-of-different-members")
    assert sorted(response.json()["member_ids"]) == sorted([first["id"], second["id"]])


def test_the_ladder_of_states_is_recorded_with_actor_and_reason(members: MembersApi) -> None:
    community = members.community()
    member = members.join(community["id"], "wx_troublemaker")
    base = f"/v1/communities/{community['id']}/members/{member['id']}"
    until = (datetime.now(UTC) + timedelta(hours=24)).isoformat()
    assert (
        members.post(base + "/mute", json={"until": until, "reason": "ads"}).json()["status"]
        == "muted"
    )
    assert members.post(base + "/unmute").json()["status"] == "active"
    assert members.post(base + "/ban", json={"reason": "ads again"}).json()["status"] == "banned"

    history = members.get(base + "/history").json()["data"]
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        ("active", "muted"),
        ("muted", "active"),
        ("active", "banned"),
    ]
    assert history[2]["reason"] == "ads again" and history[2]["actor"] == "api_key:key_test"

    again = members.post(
        f"/v1/communities/{community['id']}/members",
        json={
            "display_name": "new name",
            "identities": [{"platform": "wechat", "external_id": "wx_troublemaker"}],
        },
    )
    assert again.status_code == 409 and again.json()["type"].endswith("/member-banned")


def test_impossible_moves_are_409_and_bad_mutes_422(members: MembersApi) -> None:
    community = members.community()
    member = members.join(community["id"])
    base = f"/v1/communities/{community['id']}/members/{member['id']}"
    assert members.post(base + "/approve").status_code == 409
    assert members.post(base + "/unmute").status_code == 409
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert members.post(base + "/mute", json={"until": past}).status_code == 422
    assert members.post(base + "/mute", json={}).status_code == 422
    assert members.get(base).json()["status"] == "active"


def test_expired_mutes_lift_by_themselves(members: MembersApi) -> None:
    community = members.community()
    member = members.join(community["id"])
    base = f"/v1/communities/{community['id']}/members/{member['id']}"
    members.post(
        base + "/mute", json={"until": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
    )
    job = next(j for j in JOBS if j.name == "expire-mutes")
    assert run_job_once(members.engine, job, now=datetime.now(UTC)) == 0
    assert run_job_once(members.engine, job, now=datetime.now(UTC) + timedelta(hours=2)) == 1
    assert members.get(base).json()["status"] == "active"
    assert members.get(base + "/history").json()["data"][-1]["actor"] == "system"


def test_a_removed_member_can_rejoin_and_a_lead_becomes_a_member(members: MembersApi) -> None:
    community = members.community()
    member = members.join(community["id"], "wx_back")
    members.post(f"/v1/communities/{community['id']}/members/{member['id']}/remove")
    back = members.post(
        f"/v1/communities/{community['id']}/members",
        json={
            "display_name": "回来了",
            "identities": [{"platform": "wechat", "external_id": "wx_back"}],
        },
    )
    assert (
        back.status_code == 201
        and back.json()["id"] == member["id"]
        and back.json()["status"] == "active"
    )

    lead = members.post(
        f"/v1/communities/{community['id']}/leads",
        json={
            "display_name": "潜在",
            "identities": [{"platform": "wecom", "external_id": "lead1"}],
            "source": "双11 campaign",
        },
    )
    assert (
        lead.status_code == 201
        and lead.json()["stage"] == "aware"
        and lead.json()["joined_at"] is None
    )
    joined = members.join(community["id"], "lead1", platform="wecom")
    assert joined["id"] == lead.json()["id"] and joined["stage"] == "joined" and joined["joined_at"]


def test_merging_moves_identities_and_the_old_id_points_at_the_survivor(
    members: MembersApi,
) -> None:
    community = members.community()
    keep = members.join(community["id"], "wx_main", city="上海")
    old = members.join(community["id"], "qq_alt", platform="qq", company="群运")
    merged = members.post(
        f"/v1/communities/{community['id']}/members/{keep['id']}/merge",
        json={"member_id": old["id"]},
    )
    assert merged.status_code == 200
    body = merged.json()
    assert {(i["platform"], i["external_id"]) for i in body["identities"]} == {
        ("wechat", "wx_main"),
        ("qq", "qq_alt"),
    }
    assert body["city"] == "上海" and body["company"] == "群运"

    pointer = members.get(
        f"/v1/communities/{community['id']}/members/{old['id']}", follow_redirects=False
    )
    assert pointer.status_code == 301
    assert (
        pointer.headers["location"].endswith(keep["id"])
        and pointer.json()["merged_into"] == keep["id"]
    )
    # The old identity now finds the survivor.
    assert members.join(community["id"], "qq_alt", platform="qq")["id"] == keep["id"]
    again = members.post(
        f"/v1/communities/{community['id']}/members/{keep['id']}/merge",
        json={"member_id": old["id"]},
    )
    assert again.status_code == 409


def test_another_workspace_sees_nothing(members: MembersApi) -> None:
    community = members.community()
    member = members.join(community["id"])
    for path in (
        f"/v1/communities/{community['id']}",
        f"/v1/communities/{community['id']}/members",
        f"/v1/communities/{community['id']}/members/{member['id']}",
        f"/v1/communities/{community['id']}/settings",
    ):
        assert members.get(path, workspace="ws_other").status_code == 404, path
    assert (
        members.post(
            f"/v1/communities/{community['id']}/members/{member['id']}/ban", workspace="ws_other"
        ).status_code
        == 404
    )
    assert (
        members.get(f"/v1/communities/{community['id']}/members/{member['id']}").json()["status"]
        == "active"
    )


def test_profiles_update_and_attributes_merge(members: MembersApi) -> None:
    community = members.community()
    member = members.join(community["id"], attributes={"spending": "high"})
    path = f"/v1/communities/{community['id']}/members/{member['id']}"
    updated = members.patch(
        path, json={"title": "CTO", "role": "kol", "attributes": {"city_tier": 1}}
    ).json()
    assert updated["title"] == "CTO" and updated["role"] == "kol"
    assert updated["attributes"] == {"spending": "high", "city_tier": 1}
    assert members.patch(path, json={"display_name": None}).status_code == 422
    assert members.patch(path, json={"role": "emperor"}).status_code == 422


def test_unknown_fields_and_naive_instants_are_422s_that_change_nothing(
    members: MembersApi,
) -> None:
    community = members.community()
    member = members.join(community["id"])
    path = f"/v1/communities/{community['id']}/members/{member['id']}"
    response = members.patch(path, json={"status": "banned", "title": "CTO"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["status"]
    assert response.json()["errors"][0]["code"] == "extra_forbidden"
    unchanged = members.get(path).json()
    assert unchanged["status"] == "active" and unchanged["title"] is None
    naive = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    mute = members.post(path + "/mute", json={"until": naive})
    assert mute.status_code == 422 and mute.json()["errors"][0]["field"] == "until"
    assert members.get(path).json()["status"] == "active"
    created = members.post(
        "/v1/communities",
        json={"name": "x", "purpose": "interest", "timezone": "UTC", "colour": "red"},
    )
    assert created.status_code == 422 and created.json()["errors"][0]["field"] == "colour"


def test_status_changes_reach_kafka_through_the_outbox(members: MembersApi, outbox: Outbox) -> None:
    community = members.community()
    member = members.join(community["id"])
    members.post(
        f"/v1/communities/{community['id']}/members/{member['id']}/remove", json={"reason": "left"}
    )
    assert outbox.types()[-3:] == [
        "io.qunyun.community.created.v1",
        "io.qunyun.member.joined.v1",
        "io.qunyun.member.status_changed.v1",
    ]
    assert eventually(lambda: outbox.unsent() == 0)
