"""A member's ban reaches a bot's endpoint: every event it produces, signed, verifiable with
the Standard Webhooks reference library, through the whole stack (members → Kafka → the
gateway's dispatcher → a receiver on this machine, which `make run` allow-lists)."""

import time
from datetime import UTC, datetime

import httpx
import pytest
from kafka import KafkaConsumer
from standardwebhooks import Webhook

from deploy.local.stack import Stack
from tests.e2e.conftest import eventually
from tests.support.receiver import Receiver

pytestmark = pytest.mark.e2e


def _events_of(stack: Stack, community_id: str, since: datetime) -> set[str]:
    """The ids of every event of the community on the members topic since `since`."""
    consumer = KafkaConsumer(
        "qunyun.members.v1",
        bootstrap_servers=stack.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    ids: set[str] = set()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    headers = {k: v.decode() for k, v in record.headers}
                    if headers.get("ce_communityid") == community_id and (
                        datetime.fromisoformat(headers["ce_time"]) >= since
                    ):
                        ids.add(headers["ce_id"])
    finally:
        consumer.close()
    return ids


def test_every_event_of_a_ban_arrives_signed_and_verifies(api: httpx.Client, stack: Stack) -> None:
    community = api.post(
        "/v1/communities",
        json={"name": "读书会", "purpose": "interest", "timezone": "Asia/Shanghai"},
    ).json()
    member = api.post(
        f"/v1/communities/{community['id']}/members",
        json={
            "display_name": "林晓",
            "identities": [{"platform": "wechat", "external_id": "wx_banned"}],
        },
    ).json()
    with Receiver("127.0.0.1") as bot:
        created = api.post(
            "/v1/webhooks/endpoints",
            json={
                "url": bot.url("/qunyun"),
                "description": "涂色企服",
                "event_types": ["*"],
                "community_ids": [community["id"]],
            },
        )
        assert created.status_code == 201, created.text
        endpoint = created.json()
        since = datetime.now(UTC)
        banned = api.post(
            f"/v1/communities/{community['id']}/members/{member['id']}/ban",
            json={"reason": "广告刷屏"},
        )
        assert banned.status_code == 200, banned.text

        def ban_delivered() -> bool:
            return any(
                d.event["type"] == "io.qunyun.member.status_changed.v1"
                and d.event["data"]["to_status"] == "banned"
                for d in bot.deliveries
            )

        assert eventually(ban_delivered, timeout=30)
        produced = _events_of(stack, community["id"], since)
        assert eventually(lambda: produced <= {d.webhook_id for d in bot.deliveries}, timeout=20)
        webhook = Webhook(endpoint["secret"])
        for delivery in bot.deliveries:
            event = webhook.verify(delivery.body, delivery.headers)
            assert event["id"] == delivery.webhook_id
            assert event["communityid"] == community["id"]
        ban = next(d.event for d in bot.deliveries if d.event["data"].get("to_status") == "banned")
        assert ban["data"]["identities"] == [{"platform": "wechat", "external_id": "wx_banned"}]
        assert ban["data"]["member_id"] == member["id"]
