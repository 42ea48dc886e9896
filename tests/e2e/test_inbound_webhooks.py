"""Bots push group activity through the gateway, signed; it lands on Kafka once."""

import time
import uuid
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from deploy.local.stack import Stack
from gateway.signatures import sign
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e

TOPIC = "qunyun.ingest.messages.v1"


def _push(
    stack: Stack,
    integration: dict,
    event: dict,
    *,
    webhook_id: str | None = None,  # type: ignore[type-arg]
    secret: str | None = None,
    timestamp: int | None = None,
) -> httpx.Response:
    body = orjson.dumps(event)
    msg_id = webhook_id or uuid.uuid4().hex
    ts = timestamp or int(time.time())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "content-type": "application/json",
        "webhook-signature": sign(
            secret or integration["secret"], msg_id=msg_id, timestamp=ts, body=body
        ),
    }
    return httpx.post(
        stack.url("gateway") + integration["inbound_path"], content=body, headers=headers
    )


def _message(text: str = "大家好") -> dict:  # type: ignore[type-arg]
    return {
        "type": "message_posted",
        "data": {
            "platform": "wechat",
            "group_external_id": "grp_1",
            "sender_external_id": "wx_1",
            "message_external_id": uuid.uuid4().hex,
            "text": text,
            "occurred_at": datetime.now(UTC).isoformat(),
        },
    }


@pytest.fixture(scope="module")
def integration(api: httpx.Client) -> dict:  # type: ignore[type-arg]
    created = api.post("/v1/integrations", json={"name": "火把小助手"})
    assert created.status_code == 201, created.text
    assert created.json()["secret"].startswith("whsec_")
    return created.json()  # type: ignore[no-any-return]


def _topic_ends(stack: Stack) -> dict[TopicPartition, int]:
    """Where the ingest topic ends now: the fuzz tests leave thousands of records on it, which
    a reader from its start took more than 15 s to go through under load."""
    consumer = KafkaConsumer(bootstrap_servers=stack.kafka_bootstrap_servers)
    try:
        partitions = consumer.partitions_for_topic(TOPIC) or set()
        return consumer.end_offsets([TopicPartition(TOPIC, p) for p in partitions])  # type: ignore[no-any-return]
    finally:
        consumer.close()


def _ingested_ids(
    stack: Stack, wanted: set[str], since: dict[TopicPartition, int], timeout: float = 15
) -> set[str]:
    consumer = KafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    consumer.assign(list(since))
    for partition, offset in since.items():
        consumer.seek(partition, offset)
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not wanted <= seen:
            for batch in consumer.poll(timeout_ms=500).values():
                seen |= {dict(r.headers)["ce_id"].decode() for r in batch}
    finally:
        consumer.close()
    return seen & wanted


def test_a_signed_push_is_accepted_once_and_published(stack: Stack, integration: dict) -> None:  # type: ignore[type-arg]
    webhook_id = uuid.uuid4().hex
    event = _message()
    ends = _topic_ends(stack)
    first = _push(stack, integration, event, webhook_id=webhook_id)
    # A retry: the same id and event, signed again later.
    again = _push(stack, integration, event, webhook_id=webhook_id, timestamp=int(time.time()) + 1)
    assert first.status_code == again.status_code == 202
    assert first.json()["duplicate"] is False and again.json() == first.json() | {"duplicate": True}
    assert _ingested_ids(stack, {first.json()["event_id"]}, ends) == {first.json()["event_id"]}


def test_a_webhook_id_reused_for_another_event_is_refused_not_dropped(
    stack: Stack,
    integration: dict,  # type: ignore[type-arg]
) -> None:
    webhook_id = uuid.uuid4().hex
    first = _push(stack, integration, _message("第一条"), webhook_id=webhook_id)
    other = _push(stack, integration, _message("第二条"), webhook_id=webhook_id)
    assert first.status_code == 202
    assert other.status_code == 422, other.text
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"].endswith("/webhook-id-reused")
    assert other.json()["event_id"] == first.json()["event_id"]


def test_bad_pushes_are_refused_with_problems(stack: Stack, integration: dict) -> None:  # type: ignore[type-arg]
    wrong_secret = _push(stack, integration, _message(), secret="whsec_" + "A" * 44)
    assert wrong_secret.status_code == 401 and wrong_secret.json()["type"].endswith(
        "/invalid-signature"
    )
    stale = _push(stack, integration, _message(), timestamp=int(time.time()) - 3600)
    assert stale.status_code == 401
    not_a_message = _push(stack, integration, {"type": "message_posted", "data": {"text": 1}})
    assert not_a_message.status_code == 422 and not_a_message.json()["errors"]
    unknown_type = _push(stack, integration, {"type": "poke", "data": {}})
    assert unknown_type.status_code == 422
    unsigned = httpx.post(stack.url("gateway") + integration["inbound_path"], json=_message())
    assert unsigned.status_code == 422


def test_integrations_are_per_workspace_and_can_be_disabled(
    stack: Stack, api: httpx.Client, other_api: httpx.Client
) -> None:
    mine = api.post("/v1/integrations", json={"name": "temp"}).json()
    listed = api.get("/v1/integrations").json()
    assert mine["id"] in {i["id"] for i in listed["data"]}
    assert "secret" not in listed["data"][0]
    assert mine["id"] not in {i["id"] for i in other_api.get("/v1/integrations").json()["data"]}
    assert other_api.delete(f"/v1/integrations/{mine['id']}").status_code == 404
    assert api.delete(f"/v1/integrations/{mine['id']}").status_code == 204
    assert _push(stack, mine, _message()).status_code == 404


def test_a_bot_message_travels_to_the_members_record_and_moderation(
    stack: Stack,
    api: httpx.Client,
    integration: dict,  # type: ignore[type-arg]
) -> None:
    community = api.post(
        "/v1/communities",
        json={"name": "周五KTV", "purpose": "interest", "timezone": "Asia/Shanghai"},
    ).json()
    group_id = f"grp_{uuid.uuid4().hex[:8]}"
    group = api.post(
        f"/v1/communities/{community['id']}/groups",
        json={"platform": "wechat", "external_id": group_id, "name": "KTV 1 群"},
    )
    assert group.status_code == 201, group.text
    sender = f"wx_{uuid.uuid4().hex[:8]}"

    def push(text: str) -> None:
        event = _message(text)
        event["data"] |= {
            "group_external_id": group_id,
            "sender_external_id": sender,
            "sender_display_name": "小王",
        }
        assert _push(stack, integration, event).status_code == 202

    push("今晚几点开始？")
    push("加我微信 wx_ad_king 有优惠，电话 138-1234-5678")

    def member() -> dict | None:  # type: ignore[type-arg]
        rows = api.get(f"/v1/communities/{community['id']}/members").json()["data"]
        return rows[0] if rows and rows[0]["message_count"] == 2 else None

    # Generous: an earlier e2e test SIGKILLs the members service, and Kafka keeps the dead
    # consumer's partitions until its session times out.
    found = eventually(member, timeout=45)
    assert found, "the bot's sender never became a member with two messages"
    assert found["display_name"] == "小王" and found["stage"] == "communicating"
    cases = api.get(f"/v1/communities/{community['id']}/moderation/cases").json()["data"]
    assert len(cases) == 1 and cases[0]["member_id"] == found["id"]
