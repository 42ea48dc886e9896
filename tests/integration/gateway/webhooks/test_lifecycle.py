"""What happens to endpoints over time: 410 and long failure disable them (and say so on
Kafka), redelivery by API, secret rotation with both signatures, the guard at delivery."""

import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from kafka import KafkaConsumer
from sqlalchemy import Engine
from sqlmodel import Session
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from gateway.webhooks.models import WebhookEndpoint
from services.common.contracts.topics import WEBHOOKS
from tests.integration.gateway.webhooks.conftest import DispatcherProcess, Events, wait_for
from tests.integration.gateway.webhooks.factories import community, create_endpoint, status_changed
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration


def _endpoint(api: TestClient, endpoint_id: str) -> dict:  # type: ignore[type-arg]
    return api.get(f"/v1/webhooks/endpoints/{endpoint_id}").json()  # type: ignore[no-any-return]


def _messages(api: TestClient, endpoint_id: str, **params: str) -> list[dict]:  # type: ignore[type-arg]
    answer = api.get(f"/v1/webhooks/endpoints/{endpoint_id}/messages", params=params)
    return answer.json()["data"]  # type: ignore[no-any-return]


def _disabled_events(bootstrap: str, prefix: str, endpoint_id: str) -> list[dict]:  # type: ignore[type-arg]
    consumer = KafkaConsumer(
        prefix + WEBHOOKS,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    found = []
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline and not found:
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    headers = {k: v.decode() for k, v in record.headers}
                    if headers.get("ce_subject") == endpoint_id:
                        found.append({**headers, "data": record.value})
    finally:
        consumer.close()
    return found


def test_410_disables_the_endpoint_and_says_so_on_kafka(
    api: TestClient, receiver: Receiver, events: Events, kafka_bootstrap: str, prefix: str
) -> None:
    path = "/gone"
    receiver.script[path] = [(410, {})]
    cid = community()
    endpoint = create_endpoint(api, receiver.url(path), community_ids=[cid])
    events.publish_many([status_changed("muted"), status_changed("unmuted")], community_id=cid)

    wait_for(lambda: not _endpoint(api, endpoint["id"])["active"], what="disabled")
    read = _endpoint(api, endpoint["id"])
    assert read["disabled_reason"] == "gone"
    assert len(receiver.at(path)) == 1  # not retried, and nothing else sent
    failed = _messages(api, endpoint["id"])
    # The second event is failed with the first, or (consumed after the 410) never queued.
    assert {m["state"] for m in failed} == {"failed"} and 1 <= len(failed) <= 2
    [event] = _disabled_events(kafka_bootstrap, prefix, endpoint["id"])
    assert event["ce_type"] == "io.qunyun.webhook.endpoint_disabled.v1"
    assert b'"reason":"gone"' in event["data"]

    # Fixed and re-enabled, everything failed since a time is sent again, in order.
    assert api.patch(f"/v1/webhooks/endpoints/{endpoint['id']}", json={"active": True}).is_success
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    requeued = api.post(
        f"/v1/webhooks/endpoints/{endpoint['id']}/redeliver-failed", json={"since": since}
    )
    assert requeued.status_code == 202 and requeued.json() == {"queued": len(failed)}
    # (A second event consumed only after the re-enabling is delivered as new: hence >=.)
    wait_for(lambda: len(receiver.at(path)) >= 1 + len(failed), what="redelivered")
    redelivered = {d.webhook_id for d in receiver.at(path)[1:]}
    assert {m["event_id"] for m in failed} <= redelivered
    wait_for(
        lambda: {m["state"] for m in _messages(api, endpoint["id"])} == {"delivered"},
        what="every message recorded as delivered",
    )


def test_one_message_can_be_redelivered(
    api: TestClient, receiver: Receiver, events: Events
) -> None:
    path = "/again"
    cid = community()
    endpoint = create_endpoint(api, receiver.url(path), community_ids=[cid])
    sent = events.publish(status_changed(), community_id=cid)
    wait_for(lambda: receiver.at(path), what="first delivery")
    [message] = _messages(api, endpoint["id"])
    answer = api.post(f"/v1/webhooks/endpoints/{endpoint['id']}/messages/{message['id']}/redeliver")
    assert answer.status_code == 202
    wait_for(lambda: len(receiver.at(path)) == 2, what="redelivery")
    assert [d.webhook_id for d in receiver.at(path)] == [sent.id, sent.id]


def test_during_a_rotation_both_secrets_verify_and_after_it_only_the_new(
    api: TestClient, receiver: Receiver, events: Events
) -> None:
    path = "/rotated"
    cid = community()
    endpoint = create_endpoint(api, receiver.url(path), community_ids=[cid])
    old = endpoint["secret"]
    rotated = api.post(
        f"/v1/webhooks/endpoints/{endpoint['id']}/secret/rotate", json={"overlap_seconds": 3600}
    ).json()
    new = rotated["secret"]
    assert new != old and rotated["previous_secret_expires_at"]
    events.publish(status_changed(), community_id=cid)
    [during] = wait_for(lambda: receiver.at(path), what="delivery during the overlap")
    assert len(during.headers["webhook-signature"].split()) == 2
    Webhook(old).verify(during.body, during.headers)  # a receiver not switched yet
    Webhook(new).verify(during.body, during.headers)  # one already switched

    again = api.post(
        f"/v1/webhooks/endpoints/{endpoint['id']}/secret/rotate", json={"overlap_seconds": 0}
    ).json()
    events.publish(status_changed(), community_id=cid)
    wait_for(lambda: len(receiver.at(path)) == 2, what="delivery after the overlap")
    after = receiver.at(path)[1]
    Webhook(again["secret"]).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(after.body, after.headers)


def test_a_ping_is_delivered_signed(
    api: TestClient, receiver: Receiver, dispatcher: DispatcherProcess
) -> None:
    path = "/ping"
    endpoint = create_endpoint(api, receiver.url(path), community_ids=[community()])
    queued = api.post(f"/v1/webhooks/endpoints/{endpoint['id']}/test")
    assert queued.status_code == 202
    [delivery] = wait_for(lambda: receiver.at(path), what="the ping")
    assert Webhook(endpoint["secret"]).verify(delivery.body, delivery.headers)["type"] == (
        "io.qunyun.webhook.ping.v1"
    )
    assert delivery.webhook_id == queued.json()["event_id"]


@pytest.mark.parametrize("address", ["127.0.0.1", "169.254.169.254"])
def test_the_guard_refuses_at_delivery_too(
    api: TestClient, events: Events, engine: Engine, address: str
) -> None:
    """A name that resolved to a public address when saved may point inward later (DNS
    rebinding); we stand for that by writing the URL past the API's check."""
    with Receiver("127.0.0.1") as inward:
        url = inward.url("/secret") if address == "127.0.0.1" else f"http://{address}/latest/"
        cid = community()
        endpoint = create_endpoint(api, "http://127.0.0.2:9/placeholder", community_ids=[cid])
        with Session(engine) as session:
            session.execute(
                sa.update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint["id"])
                .values(url=url)  # type: ignore[arg-type]
            )
            session.commit()
        events.publish(status_changed(), community_id=cid)
        [message] = wait_for(
            lambda: [m for m in _messages(api, endpoint["id"]) if m["attempts"] >= 2],
            what="attempts",
        )
        attempts = api.get(
            f"/v1/webhooks/endpoints/{endpoint['id']}/messages/{message['id']}/attempts"
        ).json()["data"]
        assert {a["outcome"] for a in attempts} == {"blocked"}
        assert address in attempts[0]["error"]
        assert inward.deliveries == []


def test_an_endpoint_failing_for_five_days_is_disabled(
    api: TestClient,
    receiver: Receiver,
    events: Events,
    engine: Engine,
    kafka_bootstrap: str,
    prefix: str,
) -> None:
    path = "/down"
    receiver.script[path] = [(503, {})] * 20
    cid = community()
    endpoint = create_endpoint(api, receiver.url(path), community_ids=[cid])
    # Five days of failures so far, as the dispatcher recorded them.
    with Session(engine) as session:
        session.execute(
            sa.update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint["id"])  # type: ignore[arg-type]
            .values(failing_since=datetime.now(UTC) - timedelta(days=5, minutes=1))
        )
        session.commit()
    events.publish(status_changed(), community_id=cid)
    wait_for(lambda: not _endpoint(api, endpoint["id"])["active"], what="disabled")
    assert _endpoint(api, endpoint["id"])["disabled_reason"] == "failing"
    assert len(receiver.at(path)) == 1
    [event] = _disabled_events(kafka_bootstrap, prefix, endpoint["id"])
    assert b'"reason":"failing"' in event["data"] and b'"last_status_code":503' in event["data"]


def test_a_success_ends_a_failing_run(api: TestClient, receiver: Receiver, events: Events) -> None:
    path = "/recovers"
    receiver.script[path] = [(500, {})]
    cid = community()
    endpoint = create_endpoint(api, receiver.url(path), community_ids=[cid])
    events.publish(status_changed(), community_id=cid)
    wait_for(lambda: len(receiver.at(path)) == 2, what="retry")
    wait_for(lambda: _endpoint(api, endpoint["id"])["failing_since"] is None, what="recovered")


def test_the_dispatcher_reports_outcomes_and_queue_by_endpoint_state(
    dispatcher: DispatcherProcess, api: TestClient, receiver: Receiver, events: Events
) -> None:
    path = "/metered"
    receiver.script[path] = [(500, {})]
    cid = community()
    create_endpoint(api, receiver.url(path), community_ids=[cid])
    events.publish(status_changed(), community_id=cid)
    wait_for(lambda: len(receiver.at(path)) == 2, what="deliveries")
    text = wait_for(
        lambda: (
            (t := dispatcher.metrics())
            and 'qunyun_webhook_queue_depth{endpoint_state="healthy"}' in t
            and t
        ),
        what="gauges",
    )
    assert 'qunyun_webhook_attempts_total{outcome="delivered"}' in text
    assert 'qunyun_webhook_attempts_total{outcome="http_error"}' in text
    assert "qunyun_webhook_delivery_latency_seconds_bucket" in text
    assert 'qunyun_webhook_queue_oldest_age_seconds{endpoint_state="failing"}' in text
    assert "whe_" not in text and "127.0.0.2" not in text
