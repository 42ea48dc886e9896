"""Metrics' read models on a real Postgres: a database migrated once as a template and
copied per test, and factories for the events metrics folds."""

import functools
import uuid
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
    ChatMessagePosted,
    CommunityCreated,
    EventData,
    GroupCreated,
    MemberJoined,
    PlatformIdentity,
)
from services.common.contracts.base import topic_of
from services.common.db import make_engine
from services.common.http.identity import INTERNAL_TOKEN_HEADER, WORKSPACE_HEADER
from services.common.kafka import OutgoingRecord
from services.common.runtime import ServiceSpec
from services.common.settings import ServiceSettings
from services.metrics.app import HANDLERS, SPEC
from tests.integration.conftest import (  # noqa: F401  (eventually: the tests import it from here)
    eventually,
    service_client,
    test_settings,
)
from tests.integration.producing import PrefixedPublisher

WORKSPACE = "ws_metrics"
TOKEN = "test-internal-token"


@pytest.fixture
def metrics_database_url(new_database: Callable[[ServiceSpec], str]) -> str:
    return new_database(SPEC)


@pytest.fixture
def engine(metrics_database_url: str) -> Iterator[Engine]:
    engine = make_engine(metrics_database_url, pool_size=2)
    yield engine
    engine.dispose()


def event(
    data: EventData, *, workspace: str = WORKSPACE, community_id: str | None = None
) -> CloudEvent:
    return data.to_event(
        source="/test", workspace_id=workspace, community_id=community_id, subject=None
    )


def at(text: str) -> datetime:
    """An instant written in UTC: at("2026-03-01T15:59:59")."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Feed:
    """Hands events to metrics' handlers, one transaction each, as the consumer does."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def __call__(self, *events: CloudEvent) -> None:
        for e in events:
            with Session(self.engine) as session, session.begin():
                HANDLERS[e.type](session, e)

    def community(
        self,
        community_id: str = "cmt_1",
        *,
        timezone: str = "Asia/Shanghai",
        purpose: str = "interest",
        **kw: Any,
    ) -> str:
        self(
            event(
                CommunityCreated(
                    community_id=community_id,
                    name="读书会",
                    purpose=purpose,
                    timezone=timezone,
                    created_at=at("2026-01-01T00:00:00"),
                ),
                **kw,
            )
        )
        return community_id

    def group(
        self,
        group_id: str = "grp_1",
        community_id: str = "cmt_1",
        *,
        external_id: str | None = None,
        **kw: Any,
    ) -> str:
        self(
            event(
                GroupCreated(
                    group_id=group_id,
                    community_id=community_id,
                    platform="wechat",
                    external_id=external_id or f"wx_{group_id}",
                    name="一群",
                    kind="permanent",
                    capacity=500,
                    position=1,
                    dissolve_at=None,
                    segment_id=None,
                    created_at=at("2026-01-01T00:00:00"),
                ),
                **kw,
            )
        )
        return group_id

    def join(
        self,
        member_id: str,
        account: str,
        when: datetime,
        *,
        community_id: str = "cmt_1",
        role: str = "member",
        referred_by: str | None = None,
    ) -> None:
        self(
            event(
                MemberJoined(
                    member_id=member_id,
                    community_id=community_id,
                    display_name=member_id,
                    identities=[PlatformIdentity(platform="wechat", external_id=account)],
                    joined_at=when,
                    referred_by=referred_by,
                    role=role,
                )
            )
        )


def message(
    account: str,
    when: datetime,
    *,
    group_external_id: str = "wx_grp_1",
    text: str = "大家好",
    reply_to: str | None = None,
    workspace: str = WORKSPACE,
) -> CloudEvent:
    return event(
        ChatMessagePosted(
            platform="wechat",
            group_external_id=group_external_id,
            sender_external_id=account,
            occurred_at=when,
            message_external_id=uuid.uuid4().hex,
            text=text,
            reply_to_external_id=reply_to,
        ),
        workspace=workspace,
    )


@pytest.fixture
def feed(engine: Engine) -> Feed:
    return Feed(engine)


class MetricsApi:
    """The metrics service as the gateway sees it, and a way to put events on Kafka."""

    def __init__(self, client: TestClient, settings: ServiceSettings):
        self.client, self.settings = client, settings
        self.engine = make_engine(settings.database_url, pool_size=2)
        self.feed = Feed(self.engine)

    @functools.cached_property
    def _publisher(self) -> PrefixedPublisher:
        return PrefixedPublisher(
            self.settings.kafka_bootstrap_servers, self.settings.kafka_topic_prefix
        )

    def get(self, path: str, *, workspace: str = WORKSPACE, **kwargs: Any) -> httpx.Response:
        headers = {INTERNAL_TOKEN_HEADER: TOKEN, WORKSPACE_HEADER: workspace}
        return self.client.get(path, headers=headers, **kwargs)

    def publish(self, *events: CloudEvent) -> None:
        self._publisher.publish(
            [
                OutgoingRecord(topic_of(e.type), e.key, e.kafka_value(), e.kafka_headers())
                for e in events
            ]
        )

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def metrics(metrics_database_url: str, kafka_bootstrap: str) -> Iterator[MetricsApi]:
    settings = test_settings(metrics_database_url, kafka_bootstrap)
    with service_client(SPEC, settings) as client:
        api = MetricsApi(client, settings)
        yield api
        api.close()
