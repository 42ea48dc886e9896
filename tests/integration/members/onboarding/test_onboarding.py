"""The joining ritual: partial progress, completion once, and the list of whom to chase."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.integration.conftest import Outbox
from tests.integration.members.conftest import MembersApi

pytestmark = pytest.mark.integration

ONBOARDED = "io.qunyun.member.onboarded.v1"


def _joined_hours_ago(members: MembersApi, member_id: str, hours: float) -> None:
    with members.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE member SET joined_at = :at WHERE id = :id"),
            {"at": datetime.now(UTC) - timedelta(hours=hours), "id": member_id},
        )


def test_partial_progress_then_completion_announced_once(
    members: MembersApi, outbox: Outbox
) -> None:
    # Networking requires city, company, title, intro and reason.
    community = members.community(purpose="networking", settings={"entry": {"policy": "open"}})
    cid = community["id"]
    members.post(f"/v1/communities/{cid}/rules", json={"text": "群规 v1"})
    mid = members.join(cid)["id"]
    path = f"/v1/communities/{cid}/members/{mid}/onboarding"

    status = members.get(path).json()
    assert status["onboarded"] is False
    assert status["missing"] == [
        "city",
        "company",
        "title",
        "intro",
        "reason",
        "rules_acknowledgement",
    ]

    step = members.post(path, json={"city": " 杭州 ", "company": "群运", "reason": "终身学习"})
    assert step.status_code == 200
    assert step.json()["missing"] == ["title", "intro", "rules_acknowledgement"]
    assert step.json()["city"] == "杭州" and step.json()["reason"] == "终身学习"
    assert outbox.events(ONBOARDED) == []

    done = members.post(path, json={"title": "工程师", "intro": "做后端", "rules_version": 1})
    assert done.status_code == 200
    assert done.json()["onboarded"] is True and done.json()["missing"] == []
    member = members.get(f"/v1/communities/{cid}/members/{mid}").json()
    assert member["onboarded_at"] == done.json()["onboarded_at"]
    assert (member["city"], member["title"], member["intro"]) == ("杭州", "工程师", "做后端")

    again = members.post(path, json={"intro": "做后端和数据"})
    assert again.json()["onboarded_at"] == done.json()["onboarded_at"]
    events = outbox.events(ONBOARDED)
    assert [(e["member_id"], e["rules_version"]) for e in events] == [(mid, 1)]


def test_an_old_rules_version_does_not_complete_the_ritual(members: MembersApi) -> None:
    community = members.community(settings={"onboarding": {"required_intro_fields": ["city"]}})
    cid = community["id"]
    for text in ("v1", "v2"):
        members.post(f"/v1/communities/{cid}/rules", json={"text": text})
    mid = members.join(cid)["id"]
    path = f"/v1/communities/{cid}/members/{mid}/onboarding"
    assert members.post(path, json={"city": "上海", "rules_version": 1}).json()["missing"] == [
        "rules_acknowledgement"
    ]
    assert members.post(path, json={"rules_version": 2}).json()["onboarded"] is True


def test_with_no_rules_and_no_required_fields_the_first_call_completes(
    members: MembersApi,
) -> None:
    community = members.community(
        settings={
            "onboarding": {"required_intro_fields": [], "require_rules_acknowledgement": True}
        }
    )
    cid = community["id"]
    mid = members.join(cid)["id"]
    status = members.post(f"/v1/communities/{cid}/members/{mid}/onboarding", json={}).json()
    assert status["onboarded"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"city": "x" * 81}, "city"),
        ({"intro": "x" * 2001}, "intro"),
        ({"reason": "x" * 501}, "reason"),
        ({"city": "   "}, "city"),
        ({"hobby": "chess"}, "hobby"),
        ({"rules_version": 0}, "rules_version"),
        ({"rules_version": 7}, "rules_version"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_changes_nothing(
    members: MembersApi, body: dict, field: str
) -> None:
    community = members.community()
    cid = community["id"]
    mid = members.join(cid)["id"]
    path = f"/v1/communities/{cid}/members/{mid}/onboarding"
    response = members.post(path, json={"company": "群运", **body})
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["errors"]}
    assert members.get(path).json()["company"] is None


def test_removed_and_banned_members_are_409(members: MembersApi) -> None:
    community = members.community()
    cid = community["id"]
    for move in ("remove", "ban"):
        mid = members.join(cid)["id"]
        members.post(f"/v1/communities/{cid}/members/{mid}/{move}", json={})
        response = members.post(
            f"/v1/communities/{cid}/members/{mid}/onboarding", json={"city": "北京"}
        )
        assert response.status_code == 409
        assert response.json()["type"].endswith("member-not-present")


def test_unfinished_lists_whom_to_chase_oldest_first(members: MembersApi) -> None:
    community = members.community(
        settings={"onboarding": {"required_intro_fields": ["city"], "chase_after_hours": 24}}
    )
    cid = community["id"]
    oldest, older, fresh, finished, removed = (members.join(cid)["id"] for _ in range(5))
    for mid, hours in [(oldest, 72), (older, 30), (fresh, 2), (finished, 50), (removed, 80)]:
        _joined_hours_ago(members, mid, hours)
    members.post(f"/v1/communities/{cid}/members/{finished}/onboarding", json={"city": "广州"})
    members.post(f"/v1/communities/{cid}/members/{removed}/remove", json={})
    path = f"/v1/communities/{cid}/onboarding/unfinished"

    chase = members.get(path).json()
    assert [m["member_id"] for m in chase["data"]] == [oldest, older]
    assert chase["data"][0]["missing"] == ["city"]
    assert chase["data"][0]["hours_since_joining"] == 72

    assert [
        m["member_id"] for m in members.get(path, params={"older_than_hours": 1}).json()["data"]
    ] == [oldest, older, fresh]
    assert [
        m["member_id"] for m in members.get(path, params={"older_than_hours": 48}).json()["data"]
    ] == [oldest]

    first = members.get(path, params={"limit": 1, "older_than_hours": 1}).json()
    second = members.get(
        path, params={"limit": 1, "older_than_hours": 1, "cursor": first["next_cursor"]}
    ).json()
    assert [first["data"][0]["member_id"], second["data"][0]["member_id"]] == [oldest, older]
    assert members.get(path, params={"cursor": "%%%"}).status_code == 400


def test_another_workspace_cannot_see_or_touch_onboarding(members: MembersApi) -> None:
    community = members.community()
    cid = community["id"]
    mid = members.join(cid)["id"]
    path = f"/v1/communities/{cid}/members/{mid}/onboarding"
    other = "ws_other"
    assert members.get(path, workspace=other).status_code == 404
    assert members.post(path, workspace=other, json={"city": "x"}).status_code == 404
    assert (
        members.get(f"/v1/communities/{cid}/onboarding/unfinished", workspace=other).status_code
        == 404
    )
    assert members.get(path).json()["city"] is None
