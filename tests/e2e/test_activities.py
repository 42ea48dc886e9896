"""An activity through the whole platform: members' community, group and member reach the
events service's replica over Kafka; an operator opens an activity through the gateway; a
bot's signed 报名 push registers the member; a signed 打卡 push records a daily check-in."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from deploy.local.stack import Stack
from services.common.clock import local_day
from tests.e2e.conftest import eventually
from tests.e2e.test_inbound_webhooks import _push

pytestmark = pytest.mark.e2e


def test_a_bot_registers_a_member_and_pushes_a_check_in(stack: Stack, api: httpx.Client) -> None:
    integration = api.post("/v1/integrations", json={"name": "报名助手"}).json()
    community = api.post(
        "/v1/communities",
        json={"name": "周三读书会", "purpose": "interest", "timezone": "Asia/Shanghai"},
    ).json()
    cid = community["id"]
    group_ext, sender = f"grp_{uuid.uuid4().hex[:8]}", f"wx_{uuid.uuid4().hex[:8]}"
    group = api.post(
        f"/v1/communities/{cid}/groups",
        json={"platform": "wechat", "external_id": group_ext, "name": "读书会 1 群"},
    )
    assert group.status_code == 201, group.text
    member = api.post(
        f"/v1/communities/{cid}/members",
        json={
            "display_name": "林晓",
            "identities": [{"platform": "wechat", "external_id": sender}],
        },
    ).json()

    # The replica learns of the community over Kafka; until then the community is a 404.
    start = datetime.now(UTC) + timedelta(days=2)
    body = {
        "kind": "reading_club",
        "title": "周三读书会",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
        "capacity": 20,
    }
    created = eventually(
        lambda: (
            (r := api.post(f"/v1/communities/{cid}/activities", json=body)).status_code == 201 and r
        )
    )
    assert created, "the events service never learnt of the community"
    aid = created.json()["id"]
    for step in ("published", "registration_open"):
        moved = api.post(f"/v1/communities/{cid}/activities/{aid}/transitions", json={"to": step})
        assert moved.status_code == 200, moved.text

    # The content calendar learns of the published activity from the events service's plan.
    window = {
        "from": (start - timedelta(hours=1)).isoformat(),
        "to": (start + timedelta(days=1)).isoformat(),
    }

    def on_calendar() -> list[dict[str, object]]:
        answer = api.get(f"/v1/communities/{cid}/calendar", params=window)
        entries = answer.json()["entries"] if answer.status_code == 200 else []
        return [e for e in entries if e["kind"] == "activity_session"]

    sessions = eventually(on_calendar, timeout=30)
    assert [(e["activity_id"], e["status"]) for e in sessions] == [(aid, "scheduled")]

    def push(kind: str, **data: object) -> None:
        event = {
            "type": kind,
            "data": {
                "platform": "wechat",
                "group_external_id": group_ext,
                "sender_external_id": sender,
                "occurred_at": datetime.now(UTC).isoformat(),
                **data,
            },
        }
        assert _push(stack, integration, event).status_code == 202

    path = f"/v1/communities/{cid}/activities/{aid}/registrations"
    push("registration_requested", activity_id=aid)
    regs = eventually(lambda: api.get(path).json()["data"], timeout=30)
    assert [(r["member_id"], r["status"], r["source"]) for r in regs] == [
        (member["id"], "confirmed", "bot")
    ]

    today = local_day(datetime.now(UTC), "Asia/Shanghai").isoformat()
    challenge = api.post(
        f"/v1/communities/{cid}/activities",
        json={
            "kind": "checkin_challenge",
            "title": "每日打卡",
            "starts_at": f"{today}T00:00:00",
            "ends_at": f"{today}T23:59:00",
            "challenge": {"starts_on": today, "ends_on": today},
        },
    ).json()
    for step in ("published", "running"):
        api.post(
            f"/v1/communities/{cid}/activities/{challenge['id']}/transitions", json={"to": step}
        )
    push("check_in", challenge_id=challenge["id"], text="读完第一章")
    record = f"/v1/communities/{cid}/challenges/{challenge['id']}/participants/{member['id']}"
    assert eventually(lambda: api.get(record).json()["days"] == 1, timeout=30)


def test_an_activity_gets_its_temporary_group_from_members(api: httpx.Client) -> None:
    """Publishing an activity that wants a temporary group: events asks on Kafka, members makes
    the group (kind temporary, dissolving at the end plus the grace period) and answers, and
    events links it to the activity."""
    community = api.post(
        "/v1/communities",
        json={"name": "夜话会", "purpose": "networking", "timezone": "Asia/Shanghai"},
    ).json()
    cid = community["id"]
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    body = {
        "kind": "night_talk",
        "title": "周五夜话",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "temporary_group": {"platform": "wechat", "capacity": 60, "grace_hours": 12},
    }
    created = eventually(
        lambda: (
            (r := api.post(f"/v1/communities/{cid}/activities", json=body)).status_code == 201 and r
        )
    )
    assert created, "the events service never learnt of the community"
    aid = created.json()["id"]
    published = api.post(
        f"/v1/communities/{cid}/activities/{aid}/transitions", json={"to": "published"}
    )
    assert published.status_code == 200, published.text

    activity_path = f"/v1/communities/{cid}/activities/{aid}"
    group_id = eventually(lambda: api.get(activity_path).json()["group_id"], timeout=30)
    assert group_id, "the activity was never linked to a group"
    group = api.get(f"/v1/communities/{cid}/groups/{group_id}").json()
    assert (group["kind"], group["activity_id"], group["capacity"]) == ("temporary", aid, 60)
    assert group["name"] == "周五夜话"
    assert datetime.fromisoformat(group["dissolve_at"]) == start + timedelta(hours=14)
