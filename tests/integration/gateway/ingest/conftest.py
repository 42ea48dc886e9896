"""Bulk ingestion on the real broker and database: the gateway in this process (its own
database, topics under a prefix of this package's), a key for each of two workspaces, one
registered integration, and a reader of what reached the ingest topic."""

import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from deploy.local.postgres import database_url, ensure_databases
from gateway.access.service import create_api_key
from gateway.app import create_app
from gateway.settings import GatewaySettings
from gateway.signatures import sign
from services.common.contracts import topics
from services.common.db import make_engine
from services.common.kafka import IncomingRecord, read_since

WORKSPACE = "ws_ingest"
OTHER_WORKSPACE = "ws_other"
BODY_LIMIT = 400_000


@pytest.fixture(scope="package")
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.fixture(scope="package")
def settings(postgres_url: str, kafka_bootstrap: str, prefix: str) -> GatewaySettings:
    name = f"ingest_{uuid.uuid4().hex[:10]}"
    ensure_databases(postgres_url, [name])
    return GatewaySettings(
        database_url=database_url(postgres_url, name),
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=prefix,
        kafka_partitions=3,
        bootstrap_workspace_id=WORKSPACE,
        bootstrap_api_key="qy_" + secrets.token_urlsafe(24),
        rate_limit_per_second=1000,
        rate_limit_burst=1000,
        ingest_max_body_bytes=BODY_LIMIT,
        periodic_enabled=False,
    )


@pytest.fixture(scope="package")
def app_client(settings: GatewaySettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="package")
def engine(settings: GatewaySettings, app_client: TestClient) -> Iterator[Engine]:
    e = make_engine(settings.database_url, pool_size=2)
    yield e
    e.dispose()


@pytest.fixture(scope="package")
def other_key(engine: Engine) -> str:
    with Session(engine) as session:
        _, key = create_api_key(
            session=session, workspace_id=OTHER_WORKSPACE, name="other", scopes=["ingest:write"]
        )
        session.commit()
    return key


class Ingest:
    """The ingest API as a bot calls it, by key or by signature."""

    def __init__(self, client: TestClient, key: str):
        self.client, self.key = client, key

    def post(
        self, path: str, document: Any, *, key: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        body = document if isinstance(document, bytes) else orjson.dumps(document)
        headers = {
            "content-type": "application/json",
            "authorization": f"Bearer {key or self.key}",
            **kwargs.pop("headers", {}),
        }
        return self.client.post(path, content=body, headers=headers, **kwargs)

    def messages(self, messages: list[dict[str, Any]], **kwargs: Any) -> httpx.Response:
        return self.post("/v1/ingest/messages", {"messages": messages}, **kwargs)

    def group_events(self, events: list[dict[str, Any]], **kwargs: Any) -> httpx.Response:
        return self.post("/v1/ingest/group-events", {"events": events}, **kwargs)

    def signed(
        self,
        path: str,
        document: Any,
        *,
        integration: dict[str, Any],
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> httpx.Response:
        body = orjson.dumps(document)
        msg_id = uuid.uuid4().hex
        at = timestamp or int(time.time())
        headers = {
            "content-type": "application/json",
            "qunyun-integration": integration["id"],
            "webhook-id": msg_id,
            "webhook-timestamp": str(at),
            "webhook-signature": sign(
                secret or integration["secret"], msg_id=msg_id, timestamp=at, body=body
            ),
        }
        return self.client.post(path, content=body, headers=headers)


@pytest.fixture(scope="package")
def ingest(app_client: TestClient, settings: GatewaySettings) -> Ingest:
    assert settings.bootstrap_api_key is not None
    return Ingest(app_client, settings.bootstrap_api_key)


@pytest.fixture(scope="package")
def integration(ingest: Ingest) -> dict[str, Any]:
    created = ingest.post("/v1/integrations", {"name": "群助手"})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


class Topic:
    """What reached the ingest topic since a moment, read outside any consumer group."""

    def __init__(self, bootstrap: str, name: str):
        self.bootstrap, self.name = bootstrap, name

    def since(self, since_ms: int, *, expect: int, timeout: float = 20) -> list[IncomingRecord]:
        """The records written at or after `since_ms`, once at least `expect` have arrived."""
        deadline = time.monotonic() + timeout
        while True:
            records = list(read_since(self.bootstrap, self.name, since_ms=since_ms))
            if len(records) >= expect or time.monotonic() > deadline:
                return records
            time.sleep(0.2)


@pytest.fixture(scope="package")
def topic(kafka_bootstrap: str, prefix: str) -> Topic:
    return Topic(kafka_bootstrap, prefix + topics.INGEST_MESSAGES)


def now_ms() -> int:
    return int(time.time() * 1000)


def message(group: str = "g1", **fields: Any) -> dict[str, Any]:
    return {
        "platform": "wechat",
        "group_external_id": group,
        "sender_external_id": "wx_lin",
        "sender_display_name": "林晓",
        "occurred_at": datetime.now(UTC).isoformat(),
        "message_external_id": uuid.uuid4().hex,
        "text": "大家晚上好",
        **fields,
    }


def headers(record: IncomingRecord) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}
