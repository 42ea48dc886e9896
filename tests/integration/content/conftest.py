"""The content service in-process, on its own copy of a migrated template database and its
own Kafka topics (a unique prefix), with the real broker: its outbox relay and consumer run
as in production. Periodic jobs are run by the tests, one pass at a time, at a chosen
`now`, so time-dependent behaviour is tested without waiting."""

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy import Engine
from sqlmodel import Session

from deploy.local.postgres import database_url, ensure_databases
from services.common.contracts import CommunityCreated, EventData, GroupCreated
from services.common.db import make_engine, migrate
from services.common.http.identity import ACTOR_HEADER, INTERNAL_TOKEN_HEADER, WORKSPACE_HEADER
from services.common.ids import new_id
from services.common.kafka import KafkaPublisher, OutgoingRecord
from services.common.periodic import run_job_once
from services.common.runtime import create_service_app
from services.content.app import build_spec
from services.content.replica.handlers import on_community_created, on_group_created
from services.content.settings import ContentSettings

TOKEN = "test-internal-token"
WORKSPACE = "ws_test"


class ContentApi:
    """The content service as the gateway sees it, plus ways to feed it events and run its
    periodic jobs."""

    def __init__(self, client: TestClient, settings: ContentSettings):
        self.client = client
        self.settings = settings
        self.spec = build_spec(settings)
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

    # ---- the replica, written as members' events would write it -------------------------

    def community(
        self, timezone: str = "Asia/Shanghai", workspace: str = WORKSPACE, name: str = "读书会"
    ) -> str:
        community_id = new_id("cmt")
        data = CommunityCreated(
            community_id=community_id,
            name=name,
            purpose="interest",
            timezone=timezone,
            created_at=datetime.now(UTC),
        )
        self.apply(on_community_created, data, workspace=workspace, community_id=community_id)
        return community_id

    def group(self, community_id: str, platform: str = "wechat", workspace: str = WORKSPACE) -> str:
        group_id = new_id("grp")
        data = GroupCreated(
            group_id=group_id,
            community_id=community_id,
            platform=platform,
            external_id=f"ext-{group_id}",
            name=f"群 {group_id[-4:]}",
            kind="permanent",
            capacity=500,
            position=1,
            dissolve_at=None,
            segment_id=None,
            created_at=datetime.now(UTC),
        )
        self.apply(on_group_created, data, workspace=workspace, community_id=community_id)
        return group_id

    def apply(
        self, handler: Callable[..., None], data: EventData, *, workspace: str, community_id: str
    ) -> None:
        """Run a handler on an event, as the consumer would, without the trip through Kafka."""
        event = data.to_event(
            source="/test", workspace_id=workspace, community_id=community_id, subject=None
        )
        with Session(self.engine) as session, session.begin():
            handler(session, event)

    # ---- content ---------------------------------------------------------------------------

    def approved_item(self, community_id: str, **fields: Any) -> dict[str, Any]:
        body = {"kind": "morning_brief", "title": "早报", "body": "今日要闻 {{community_name}}"}
        created = self.post(f"/v1/communities/{community_id}/contents", json=body | fields)
        assert created.status_code == 201, created.text
        item_id = created.json()["id"]
        assert self.post(f"/v1/contents/{item_id}/submit").status_code == 200
        reviewed = self.post(f"/v1/contents/{item_id}/review", json={"decision": "approve"})
        assert reviewed.status_code == 200, reviewed.text
        return reviewed.json()  # type: ignore[no-any-return]

    def schedule(self, community_id: str, **body: Any) -> dict[str, Any]:
        response = self.post(f"/v1/communities/{community_id}/schedules", json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    # ---- time and Kafka --------------------------------------------------------------------

    def run_job(self, name: str, now: datetime, engine: Engine | None = None) -> int | None:
        job = next(j for j in self.spec.periodic if j.name == name)
        return run_job_once(engine or self.engine, job, now)

    def dispatch(self, now: datetime) -> int | None:
        return self.run_job("content-dispatch-due", now)

    def publish(
        self, data: EventData, *, community_id: str | None, workspace: str = WORKSPACE
    ) -> str:
        """Put an event on Kafka as its producer would; returns the event id."""
        event = data.to_event(
            source="/test", workspace_id=workspace, community_id=community_id, subject=None
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
def content_template(postgres_url: str) -> str:
    """A database with every content migration applied, copied for each test."""
    name = f"tpl_content_{uuid.uuid4().hex[:8]}"
    ensure_databases(postgres_url, [name])
    engine = make_engine(database_url(postgres_url, name), pool_size=1)
    migrate(engine, build_spec(ContentSettings()).migrations_dir)
    engine.dispose()
    return name


@pytest.fixture
def content_database_url(postgres_url: str, content_template: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(content_template)
            )
        )
    return database_url(postgres_url, name)


@pytest.fixture
def content_settings(content_database_url: str, kafka_bootstrap: str) -> ContentSettings:
    return ContentSettings(
        database_url=content_database_url,
        kafka_partitions=1,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        internal_token=TOKEN,
        periodic_enabled=False,
        outbox_poll_seconds=0.05,
        consumer_backoff_seconds=0.01,
        consumer_backoff_max_seconds=0.1,
        members_url="http://127.0.0.1:9",  # nothing listens: tests that need members stub it
        members_timeout_seconds=1.0,
    )


@pytest.fixture
def content(content_settings: ContentSettings) -> Iterator[ContentApi]:
    spec = build_spec(content_settings)
    with TestClient(create_service_app(spec, content_settings)) as client:
        api = ContentApi(client, content_settings)
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
