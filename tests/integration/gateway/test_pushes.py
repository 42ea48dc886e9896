"""Bots' signed pushes on the real Postgres: accepted once, retried as duplicates, refused
when signed wrong or reusing an id, and still accepted after the database dropped the push
path's connections (what `pool_pre_ping` used to guard against)."""

import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient

from deploy.local.postgres import database_url, ensure_databases
from gateway.app import create_app
from gateway.settings import GatewaySettings
from gateway.signatures import sign

WORKSPACE = "ws_pushes"


@pytest.fixture(scope="module")
def gateway_database(postgres_url: str) -> str:
    name = f"pushes_{uuid.uuid4().hex[:10]}"
    ensure_databases(postgres_url, [name])
    return database_url(postgres_url, name)


@pytest.fixture(scope="module")
def gateway(gateway_database: str, kafka_bootstrap: str) -> Iterator[TestClient]:
    admin_key = "qy_" + secrets.token_urlsafe(24)
    settings = GatewaySettings(
        database_url=gateway_database,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        bootstrap_workspace_id=WORKSPACE,
        bootstrap_api_key=admin_key,
    )
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {admin_key}"
        yield client


@pytest.fixture
def integration(gateway: TestClient) -> dict[str, Any]:
    created = gateway.post("/v1/integrations", json={"name": "push bot"})
    assert created.status_code == 201, created.text
    return dict(created.json())


def _message(text: str = "大家好") -> bytes:
    return orjson.dumps(
        {
            "type": "message_posted",
            "data": {
                "platform": "wechat",
                "group_external_id": "grp_1",
                "sender_external_id": "wx_1",
                "message_external_id": uuid.uuid4().hex,
                "text": text,
                "occurred_at": "2026-11-30T12:00:00+00:00",
            },
        }
    )


def _push(
    gateway: TestClient,
    integration: dict[str, Any],
    body: bytes,
    *,
    webhook_id: str | None = None,
    secret: str | None = None,
    leave_out: str = "",
) -> httpx.Response:
    webhook_id = webhook_id or uuid.uuid4().hex
    ts = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(
            secret or integration["secret"], msg_id=webhook_id, timestamp=ts, body=body
        ),
    }
    headers.pop(leave_out, None)
    return gateway.post(integration["inbound_path"], content=body, headers=headers)


def _outbox_rows(gateway_database: str, event_id: str) -> int:
    with psycopg.connect(gateway_database.replace("+psycopg", ""), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM outbox WHERE event_id = %s", (event_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_push_is_accepted_once_and_its_retry_is_a_duplicate(
    gateway: TestClient, integration: dict[str, Any], gateway_database: str
) -> None:
    body = _message()
    first = _push(gateway, integration, body, webhook_id="wh_1")
    assert first.status_code == 202, first.text
    assert first.json()["duplicate"] is False
    retry = _push(gateway, integration, body, webhook_id="wh_1")
    assert retry.status_code == 202
    assert retry.json() == {"event_id": first.json()["event_id"], "duplicate": True}
    assert _outbox_rows(gateway_database, first.json()["event_id"]) == 1

    reused = _push(gateway, integration, _message("另一条"), webhook_id="wh_1")
    assert reused.status_code == 422
    assert reused.json()["type"].endswith("webhook-id-reused")
    assert reused.json()["event_id"] == first.json()["event_id"]


def test_a_push_signed_with_another_secret_is_refused(
    gateway: TestClient, integration: dict[str, Any]
) -> None:
    other = "whsec_" + "QUJD" * 8
    answer = _push(gateway, integration, _message(), secret=other)
    assert answer.status_code == 401
    assert answer.json()["type"].endswith("invalid-signature")


def test_a_push_without_its_signature_header_is_a_validation_problem_naming_it(
    gateway: TestClient, integration: dict[str, Any]
) -> None:
    answer = _push(gateway, integration, _message(), leave_out="webhook-signature")
    assert answer.status_code == 422
    assert "webhook-signature" in answer.text


def test_a_disabled_integration_stops_being_accepted_at_once(
    gateway: TestClient, integration: dict[str, Any]
) -> None:
    assert _push(gateway, integration, _message()).status_code == 202  # remembered now
    assert gateway.delete(f"/v1/integrations/{integration['id']}").status_code == 204
    assert _push(gateway, integration, _message()).status_code == 404


def test_pushes_are_accepted_after_the_database_dropped_their_connections(
    gateway: TestClient, integration: dict[str, Any], gateway_database: str
) -> None:
    for _ in range(3):  # connections kept by the push path
        assert _push(gateway, integration, _message()).status_code == 202
    name = gateway_database.rsplit("/", 1)[1].split("?", 1)[0]
    with psycopg.connect(gateway_database.replace("+psycopg", ""), autocommit=True) as conn:
        dropped = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
    assert dropped is not None and dropped[0] > 0
    answer = _push(gateway, integration, _message())
    assert answer.status_code == 202, answer.text
    assert answer.json()["duplicate"] is False
