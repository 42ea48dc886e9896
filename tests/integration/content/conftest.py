"""The content service in-process on a copy of its migrated template database and its own
Kafka topics, with the real broker (the shared tests/integration/conftest.py): its outbox
relay and consumer run as in production. Periodic jobs are run by the tests, one pass at a
time, at a chosen `now`, so time-dependent behaviour is tested without waiting."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.contracts import CommunityCreated, EventData, GroupCreated, topics
from services.common.ids import new_id
from services.common.periodic import run_job_once
from services.common.runtime import ServiceSpec
from services.content.app import build_spec
from services.content.replica.handlers import on_community, on_group
from services.content.settings import ContentSettings
from tests.integration.common.conftest import read_topic
from tests.integration.conftest import (
    WORKSPACE,
    ServiceApi,
    eventually,
    service_client,
    test_settings,
)

__all__ = ["WORKSPACE", "ContentApi", "eventually", "local_time", "next_minute"]


def local_time(at: datetime, timezone: str) -> str:
    """`at` as a wall-clock time in `timezone`, as a schedule's `starts_at` takes it."""
    return at.astimezone(ZoneInfo(timezone)).replace(tzinfo=None).isoformat(timespec="seconds")


def next_minute() -> datetime:
    """A whole minute safely ahead of now: a schedule made now is due then."""
    return (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)


class ContentApi(ServiceApi):
    """The content service as the gateway sees it, plus ways to feed it events, write its
    replica and run its periodic jobs."""

    def __init__(self, client: TestClient, settings: ContentSettings):
        super().__init__(client, settings)
        self.settings: ContentSettings = settings
        self.spec = build_spec(settings)

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
        self.apply(on_community, data, workspace=workspace, community_id=community_id)
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
        self.apply(on_group, data, workspace=workspace, community_id=community_id)
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

    def events(self, event_type: str, *, expect: int) -> list[CloudEvent]:
        """The events of one type on content's topic, reading until `expect` of any type came."""
        records = read_topic(
            self.settings.kafka_bootstrap_servers,
            self.settings.kafka_topic_prefix + topics.CONTENT,
            expect=expect,
            timeout=15,
        )
        found = [CloudEvent.from_kafka(r.headers, r.value) for r in records]
        return [e for e in found if e.type == event_type]

    def run_job(self, name: str, now: datetime, engine: Engine | None = None) -> int | None:
        job = next(j for j in self.spec.periodic if j.name == name)
        return run_job_once(engine or self.engine, job, now)

    def dispatch(self, now: datetime) -> int | None:
        return self.run_job("content-dispatch-due", now)


@pytest.fixture
def content_settings(
    new_database: Callable[[ServiceSpec], str], kafka_bootstrap: str
) -> ContentSettings:
    """The shared test settings, with content's own: nothing listens at `members_url`, so
    tests that need members start a stub."""
    shared = test_settings(new_database(build_spec(ContentSettings())), kafka_bootstrap)
    return ContentSettings(
        **shared.model_dump(), members_url="http://127.0.0.1:9", members_timeout_seconds=1.0
    )


@pytest.fixture
def service_engine(content: ContentApi) -> Engine:
    """What the shared `outbox` fixture reads."""
    return content.engine


@pytest.fixture
def content(content_settings: ContentSettings) -> Iterator[ContentApi]:
    spec = build_spec(content_settings)
    with service_client(spec, content_settings) as client:
        api = ContentApi(client, content_settings)
        yield api
        api.close()
