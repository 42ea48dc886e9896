"""The events service in-process on a copy of a migrated template database and its own Kafka
topics (a unique prefix), with the real broker: its outbox relay and consumer run as in
production. `EventsApi` wraps the test client with the gateway's identity headers, seeds the
replica as members' events would, and reads back what the service put on Kafka."""

import functools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.contracts import (
    ActivityPlanned,
    CommunityCreated,
    EventData,
    GroupCreated,
    MemberJoined,
    PlatformIdentity,
    topics,
)
from services.common.db import make_engine
from services.common.http.identity import ACTOR_HEADER, INTERNAL_TOKEN_HEADER, WORKSPACE_HEADER
from services.common.ids import new_id
from services.common.kafka import IncomingRecord, OutgoingRecord
from services.common.runtime import ServiceSpec
from services.common.settings import ServiceSettings
from services.events.app import SPEC
from tests.integration.common.conftest import read_topic
from tests.integration.conftest import (  # noqa: F401  (eventually: the tests import it from here)
    eventually,
    service_client,
    test_settings,
)
from tests.integration.producing import PrefixedPublisher

TOKEN = "test-internal-token"
_TYPE_HEADER = "ce_type"  # the CloudEvents binding's header for an event's type
WORKSPACE = "ws_test"
# A fixed instant for members' events whose time no test reads back.
NOW = datetime(2026, 11, 30, tzinfo=UTC)


class EventsApi:
    def __init__(self, client: TestClient, settings: ServiceSettings, bootstrap: str):
        self.client = client
        self.settings = settings
        self.bootstrap = bootstrap
        self.engine: Engine = make_engine(settings.database_url, pool_size=2)

    @functools.cached_property
    def _publisher(self) -> PrefixedPublisher:
        return PrefixedPublisher(self.bootstrap, self.settings.kafka_topic_prefix)

    # ---- HTTP as the gateway sends it ----

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

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    # ---- the replica, fed as members' events would feed it ----

    def feed(self, data: EventData, *, community_id: str, workspace: str = WORKSPACE) -> None:
        """Apply a members event to the replica through the service's own handler, in one
        transaction as the consumer does (without the trip through Kafka)."""
        event = data.to_event(
            source="/test", workspace_id=workspace, community_id=community_id, subject=None
        )
        with Session(self.engine) as session, session.begin():
            SPEC.handlers[event.type](session, event)

    def publish(
        self, data: EventData, *, community_id: str | None, workspace: str = WORKSPACE
    ) -> str:
        """Put an event on Kafka as its producer would; returns its id."""
        event = data.to_event(
            source="/test", workspace_id=workspace, community_id=community_id, subject=None
        )
        self._publisher.publish(
            [OutgoingRecord(data.topic, event.key, event.kafka_value(), event.kafka_headers())]
        )
        return event.id

    def community(self, timezone: str = "Asia/Shanghai", workspace: str = WORKSPACE) -> str:
        community_id = new_id("cmt")
        self.feed(
            CommunityCreated(
                community_id=community_id,
                name="读书会",
                purpose="interest",
                timezone=timezone,
                created_at=datetime.now(UTC),
            ),
            community_id=community_id,
            workspace=workspace,
        )
        return community_id

    def member(
        self, community_id: str, *, role: str = "member", external_id: str | None = None
    ) -> str:
        member_id = new_id("mbr")
        self.feed(
            MemberJoined(
                member_id=member_id,
                community_id=community_id,
                display_name="成员",
                identities=[
                    PlatformIdentity(platform="wechat", external_id=external_id or member_id)
                ],
                joined_at=datetime.now(UTC),
                role=role,
            ),
            community_id=community_id,
        )
        return member_id

    def group(self, community_id: str, external_id: str = "grp_ext") -> str:
        group_id = new_id("grp")
        self.feed(
            GroupCreated(
                group_id=group_id,
                community_id=community_id,
                platform="wechat",
                external_id=external_id,
                name="夜话会临时群",
                kind="temporary",
                capacity=200,
                position=1,
                dissolve_at=None,
                segment_id=None,
                created_at=datetime.now(UTC),
            ),
            community_id=community_id,
        )
        return group_id

    # ---- activities ----

    def activity(self, community_id: str, **fields: Any) -> dict[str, Any]:
        body = {
            "kind": "talk",
            "title": "专家分享",
            "starts_at": "2030-06-01T19:30:00",
            "ends_at": "2030-06-01T21:00:00",
        } | fields
        response = self.post(f"/v1/communities/{community_id}/activities", json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def move(self, community_id: str, activity_id: str, *steps: str) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for step in steps:
            response = self.post(
                f"/v1/communities/{community_id}/activities/{activity_id}/transitions",
                json={"to": step},
            )
            assert response.status_code == 200, response.text
            body = response.json()
        return body

    def open_activity(self, community_id: str, **fields: Any) -> dict[str, Any]:
        activity = self.activity(community_id, **fields)
        return self.move(community_id, activity["id"], "published", "registration_open")

    def sessions(self, community_id: str, activity_id: str) -> list[dict[str, Any]]:
        response = self.get(f"/v1/communities/{community_id}/activities/{activity_id}/sessions")
        assert response.status_code == 200, response.text
        return response.json()["data"]  # type: ignore[no-any-return]

    # ---- what went out ----

    def published(
        self, *, expect: int = 1, timeout: float = 20, plans: bool = False
    ) -> list[tuple[str, dict[str, Any]]]:
        """(type, data) of every event on this test's activities topic, read from Kafka until
        `expect` arrived. The plan announced with each change (`activity.planned`) is left
        out and not counted unless `plans` asks for it alone."""

        def is_plan(record: IncomingRecord) -> bool:
            return (_TYPE_HEADER, ActivityPlanned.type.encode()) in record.headers

        records = read_topic(
            self.bootstrap,
            self.settings.kafka_topic_prefix + topics.ACTIVITIES,
            expect=expect,
            timeout=timeout,
            counted=is_plan if plans else lambda record: not is_plan(record),
        )
        out = []
        for record in records:
            if is_plan(record) == plans:
                event = CloudEvent.from_kafka(record.headers, record.value)
                out.append((event.type, event.data))
        return out

    def outbox_types(self) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT headers FROM outbox ORDER BY seq").scalars()
            return [dict(h)["ce_type"] for h in rows]

    def session(self) -> Session:
        return Session(self.engine)

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def events_database_url(new_database: Callable[[ServiceSpec], str]) -> str:
    return new_database(SPEC)


@pytest.fixture
def events(events_database_url: str, kafka_bootstrap: str) -> Iterator[EventsApi]:
    settings = test_settings(events_database_url, kafka_bootstrap)
    with service_client(SPEC, settings) as client:
        api = EventsApi(client, settings, kafka_bootstrap)
        yield api
        api.close()


def of_type(events: list[tuple[str, dict[str, Any]]], name: str) -> list[dict[str, Any]]:
    return [data for t, data in events if t == f"io.qunyun.activity.{name}.v1"]
