"""The members service in-process, on its own fresh database and its own Kafka topics (a
unique topic prefix), with the real broker: its outbox relay and consumer run as in
production. `MembersApi` wraps the test client with the gateway's identity headers."""

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy import Engine
from sqlmodel import Session

from deploy.local.postgres import database_url, ensure_databases
from services.common.contracts import EventData
from services.common.db import make_engine, migrate
from services.common.http.identity import ACTOR_HEADER, INTERNAL_TOKEN_HEADER, WORKSPACE_HEADER
from services.common.kafka import KafkaPublisher, OutgoingRecord
from services.common.runtime import create_service_app
from services.common.settings import ServiceSettings
from services.members.app import SPEC

TOKEN = "test-internal-token"
WORKSPACE = "ws_test"


class MembersApi:
    """The members service as the gateway sees it, plus ways to feed it events."""

    def __init__(self, client: TestClient, settings: ServiceSettings):
        self.client = client
        self.settings = settings
        self.engine: Engine = make_engine(settings.database_url, pool_size=2)
        self._publisher = KafkaPublisher(
            settings.kafka_bootstrap_servers,
            client_id="test",
            topic_prefix=settings.kafka_topic_prefix,
        )

    def request(
        self, method: str, path: str, *, workspace: str = WORKSPACE, **kwargs: Any
    ) -> httpx.Response:
        headers = {
            INTERNAL_TOKEN_HEADER: TOKEN,
            WORKSPACE_HEADER: workspace,
            ACTOR_HEADER: "api_key:key_test",
            **kwargs.pop("headers", {}),
        }
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def community(self, **overrides: Any) -> dict[str, Any]:
        body = {"name": "测试群", "purpose": "interest", "timezone": "Asia/Shanghai"} | overrides
        response = self.post("/v1/communities", json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def join(
        self,
        community_id: str,
        external_id: str | None = None,
        platform: str = "wechat",
        **fields: Any,
    ) -> dict[str, Any]:
        body = {
            "display_name": fields.pop("display_name", "成员"),
            "identities": [{"platform": platform, "external_id": external_id or uuid.uuid4().hex}],
        }
        response = self.post(f"/v1/communities/{community_id}/members", json=body | fields)
        assert response.status_code in (200, 201), response.text
        return response.json()  # type: ignore[no-any-return]

    def publish(
        self,
        data: EventData,
        *,
        community_id: str | None,
        workspace: str = WORKSPACE,
        subject: str | None = None,
    ) -> str:
        """Put an event on Kafka as its producer would; returns the event id."""
        event = data.to_event(
            source="/test", workspace_id=workspace, community_id=community_id, subject=subject
        )
        self._publisher.publish(
            [OutgoingRecord(data.topic, event.key, event.kafka_value(), event.kafka_headers())]
        )
        return event.id

    def session(self) -> Session:
        return Session(self.engine)

    def close(self) -> None:
        self._publisher.close()
        self.engine.dispose()


@pytest.fixture(scope="session")
def members_template(postgres_url: str) -> str:
    """A database with every members migration applied, copied for each test: copying is
    much faster than migrating."""
    name = f"tpl_members_{uuid.uuid4().hex[:8]}"
    ensure_databases(postgres_url, [name])
    engine = make_engine(database_url(postgres_url, name), pool_size=1)
    migrate(engine, SPEC.migrations_dir)
    engine.dispose()
    return name


@pytest.fixture
def members_database_url(postgres_url: str, members_template: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(members_template)
            )
        )
    return database_url(postgres_url, name)


@pytest.fixture
def members(members_database_url: str, kafka_bootstrap: str) -> Iterator[MembersApi]:
    settings = ServiceSettings(
        database_url=members_database_url,
        kafka_partitions=1,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        internal_token=TOKEN,
        periodic_enabled=False,
        outbox_poll_seconds=0.05,
        consumer_backoff_seconds=0.01,
        consumer_backoff_max_seconds=0.1,
    )
    with TestClient(create_service_app(SPEC, settings)) as client:
        api = MembersApi(client, settings)
        yield api
        api.close()


def eventually(probe: Callable[[], Any], *, timeout: float = 20) -> Any:
    """The first truthy result of `probe`, retried until the timeout (then its last result)."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)
