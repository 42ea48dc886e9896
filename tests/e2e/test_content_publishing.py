"""A scheduled post travels the whole platform: a community and a group made in members
reach content's replica over Kafka; approved content is scheduled a few seconds ahead; the
content process dispatches it (publication_due on Kafka); the bot's signed result comes back
through the gateway's inbound door and marks it published."""

import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
from kafka import KafkaConsumer

from deploy.local.stack import Stack
from gateway.signatures import sign
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e


def _push(stack: Stack, integration: dict, event: dict) -> httpx.Response:  # type: ignore[type-arg]
    body = orjson.dumps(event)
    msg_id, ts = uuid.uuid4().hex, int(time.time())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "content-type": "application/json",
        "webhook-signature": sign(integration["secret"], msg_id=msg_id, timestamp=ts, body=body),
    }
    return httpx.post(
        stack.url("gateway") + integration["inbound_path"], content=body, headers=headers
    )


def _due_events(stack: Stack, schedule_id: str, timeout: float = 30) -> list[dict]:  # type: ignore[type-arg]
    consumer = KafkaConsumer(
        "qunyun.content.v1",
        bootstrap_servers=stack.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    found: list[dict] = []  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not found:
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    headers = dict(record.headers)
                    data = orjson.loads(record.value)
                    if (
                        headers["ce_type"] == b"io.qunyun.content.publication_due.v1"
                        and data["schedule_id"] == schedule_id
                    ):
                        found.append(data)
    finally:
        consumer.close()
    return found


def test_a_scheduled_post_is_dispatched_and_its_result_comes_back(
    stack: Stack, api: httpx.Client
) -> None:
    community = api.post(
        "/v1/communities",
        json={"name": "晨读", "purpose": "interest", "timezone": "Europe/Berlin"},
    ).json()
    group = api.post(
        f"/v1/communities/{community['id']}/groups",
        json={
            "platform": "wechat",
            "external_id": f"wx-{uuid.uuid4().hex[:8]}",
            "name": "晨读一群",
        },
    )
    assert group.status_code == 201, group.text
    contents = f"/v1/communities/{community['id']}/contents"
    assert eventually(lambda: api.get(contents).status_code == 200, timeout=30)
    item = api.post(
        contents, json={"kind": "morning_brief", "title": "早报", "body": "早安 {{group_name}}"}
    ).json()
    api.post(f"/v1/contents/{item['id']}/submit")
    assert (
        api.post(f"/v1/contents/{item['id']}/review", json={"decision": "approve"}).status_code
        == 200
    )

    def group_known() -> bool:
        # The group reaches content's replica over Kafka a moment after it is made.
        attempt = api.post(
            f"/v1/communities/{community['id']}/schedules",
            json={
                "name": "早报",
                "content_item_id": item["id"],
                "target": {"kind": "groups", "group_ids": [group.json()["id"]]},
                "starts_at": (datetime.now(UTC) + timedelta(seconds=4))
                .astimezone(ZoneInfo("Europe/Berlin"))
                .replace(tzinfo=None)
                .isoformat(timespec="seconds"),
            },
        )
        schedules.append(attempt.json())
        return attempt.status_code == 201

    schedules: list[dict] = []  # type: ignore[type-arg]
    assert eventually(group_known, timeout=30), schedules[-1]
    schedule = schedules[-1]

    (due,) = _due_events(stack, schedule["id"])
    assert (due["platform"], due["external_id"]) == ("wechat", group.json()["external_id"])
    assert due["text"] == "早安 晨读一群"

    integration = api.post("/v1/integrations", json={"name": "发布机器人"}).json()
    pushed = _push(
        stack,
        integration,
        {
            "type": "publication_result",
            "data": {
                "publication_id": due["publication_id"],
                "status": "published",
                "external_message_id": "msg-42",
            },
        },
    )
    assert pushed.status_code == 202, pushed.text

    def published() -> bool:
        rows = api.get(f"/v1/schedules/{schedule['id']}/publications").json()["data"]
        return bool(rows) and rows[0]["status"] == "published"

    assert eventually(published, timeout=30)
    assert (
        api.get(f"/v1/schedules/{schedule['id']}/publications").json()["data"][0][
            "external_message_id"
        ]
        == "msg-42"
    )
