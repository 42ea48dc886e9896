"""What every service's integration tests share, on the session's real Postgres and Kafka
(tests/conftest.py): a database per test copied from the service's migrated template, the
service running in-process with its relay and consumer, a client that speaks as the gateway,
and the service's outbox to read what it announced.

A service's own conftest (tests/integration/<service>/conftest.py) names its spec and adds
what only it needs; see tests/integration/members/conftest.py:

    @pytest.fixture
    def members(new_database, kafka_bootstrap) -> Iterator[MembersApi]:
        with running_service(SPEC, new_database(SPEC), kafka_bootstrap) as client:
            ...

    @pytest.fixture
    def service_engine(members) -> Engine:  # what `outbox` reads
        return members.engine
"""

import functools
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import psycopg
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy import Engine
from sqlmodel import Session

from deploy.local.postgres import database_url, ensure_databases
from services.common.contracts import EventData
from services.common.db import make_engine, migrate
from services.common.http.identity import ACTOR_HEADER, INTERNAL_TOKEN_HEADER, WORKSPACE_HEADER
from services.common.kafka import OutgoingRecord
from services.common.runtime import ServiceSpec, create_service_app
from services.common.settings import ServiceSettings
from tests.integration.producing import PrefixedPublisher, close_all

TOKEN = "test-internal-token"
WORKSPACE = "ws_test"


class _Copies:
    """Databases copied from each service's template, migrated once per session (copying is
    much faster than migrating). One copy per service is made ahead, in a thread, while the
    test before runs: a copy is a fifth of a second of Postgres's time under load, most of a
    short test's set-up, and the machine's other core is otherwise idle then."""

    def __init__(self, server_url: str):
        self.server_url = server_url
        self.templates: dict[str, str] = {}
        self.ahead: dict[str, Future[str]] = {}
        self.copier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="database-copy")

    def _template(self, spec: ServiceSpec) -> str:
        if spec.name not in self.templates:
            name = f"tpl_{spec.name}_{uuid.uuid4().hex[:8]}"
            ensure_databases(self.server_url, [name])
            engine = make_engine(database_url(self.server_url, name), pool_size=1)
            migrate(engine, spec.migrations_dir)
            engine.dispose()
            self.templates[spec.name] = name
        return self.templates[spec.name]

    def _copy(self, template: str) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        return name

    def __call__(self, spec: ServiceSpec) -> str:
        template = self._template(spec)
        ready = self.ahead.pop(spec.name, None)
        name = ready.result() if ready is not None else self._copy(template)
        self.ahead[spec.name] = self.copier.submit(self._copy, template)
        return database_url(self.server_url, name)

    def close(self) -> None:
        self.copier.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session", autouse=True)
def _session_producers() -> Iterator[None]:
    """Closes the producer the tests' events went through (tests/integration/producing.py)."""
    yield
    close_all()


@pytest.fixture(scope="session")
def new_database(postgres_url: str) -> Iterator[Callable[[ServiceSpec], str]]:
    """`new_database(spec)`: the URL of a new database with every migration of `spec`, copied
    from a template migrated once per session."""
    copies = _Copies(postgres_url)
    try:
        yield copies
    finally:
        copies.close()


def test_settings(database: str, kafka_bootstrap: str) -> ServiceSettings:
    """Settings for a service under test: its own topics (a unique prefix), quick relay and
    retries, no periodic jobs (tests run a job's pass when they mean to), and a short consumer
    poll: stopping the service waits for the poll under way, a quarter of a second a test at
    the default half second."""
    return ServiceSettings(
        database_url=database,
        kafka_partitions=1,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        internal_token=TOKEN,
        periodic_enabled=False,
        outbox_poll_seconds=0.05,
        consumer_backoff_seconds=0.01,
        consumer_backoff_max_seconds=0.1,
        consumer_poll_seconds=0.05,
    )


test_settings.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


class ServiceApi:
    """A service as the gateway sees it, plus ways to feed it events."""

    def __init__(self, client: TestClient, settings: ServiceSettings):
        self.client = client
        self.settings = settings
        self.engine: Engine = make_engine(settings.database_url, pool_size=2)

    @functools.cached_property
    def _publisher(self) -> PrefixedPublisher:
        return PrefixedPublisher(
            self.settings.kafka_bootstrap_servers, self.settings.kafka_topic_prefix
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
        self.engine.dispose()


# One app per service for the whole session. Building one is the dearest part of a test's
# set-up (over a CPU-second for members: FastAPI resolves every route's parameters, then the
# OpenAPI document), and members' tests alone start it ~190 times. Each test starts the built
# app again on its own settings: the whole lifespan runs anew (engine on the test's database,
# migrations, its topics, relay, consumer), as when a process restarts; what one run keeps
# lives in `app.state` and is replaced by the next start.
_built_apps: dict[tuple[object, ...], FastAPI] = {}
_apps_running: set[int] = set()


def _app_identity(spec: ServiceSpec) -> tuple[object, ...]:
    """Specs that would build the same app (content builds its spec anew per test)."""
    return (
        spec.name,
        spec.migrations_dir,
        tuple(map(id, spec.routers)),
        tuple((t, id(h)) for t, h in spec.handlers.items()),
        tuple((t, id(h)) for t, h in spec.batch_handlers.items()),
        tuple(map(id, spec.lifespan_hooks)),
    )


@contextmanager
def service_client(spec: ServiceSpec, settings: ServiceSettings) -> Iterator[TestClient]:
    """`spec` in-process on `settings`, with its outbox relay and consumer, until the block ends.

    Periodic jobs are bound to the settings their spec was built with, so a service running
    them gets an app of its own; so does a second instance running beside the first."""
    key = _app_identity(spec)
    app = _built_apps.get(key)
    if app is None or id(app) in _apps_running or settings.periodic_enabled:
        app = create_service_app(spec, settings)
        if not settings.periodic_enabled:
            _built_apps.setdefault(key, app)
    app.state.settings = settings
    _apps_running.add(id(app))
    try:
        with TestClient(app) as client:
            yield client
    finally:
        _apps_running.discard(id(app))


@contextmanager
def running_service(
    spec: ServiceSpec, database: str, kafka_bootstrap: str
) -> Iterator[tuple[TestClient, ServiceSettings]]:
    """The service in-process, with its outbox relay and consumer, until the block ends."""
    settings = test_settings(database, kafka_bootstrap)
    with service_client(spec, settings) as client:
        yield client, settings


class Outbox:
    """What the service under test put in its outbox, oldest first."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def _rows(self) -> list[tuple[str, dict[str, Any]]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT headers, payload FROM outbox ORDER BY seq")).all()
        return [(dict(headers)["ce_type"], orjson.loads(payload)) for headers, payload in rows]

    def types(self) -> list[str]:
        """The type of every event, in order."""
        return [event_type for event_type, _ in self._rows()]

    def events(self, event_type: str) -> list[dict[str, Any]]:
        """The data of every event of one type."""
        return [data for t, data in self._rows() if t == event_type]

    def starting(self, prefix: str) -> list[dict[str, Any]]:
        """The data of the events whose type starts with `prefix`, each with its `_type`."""
        return [data | {"_type": t} for t, data in self._rows() if t.startswith(prefix)]

    def unsent(self) -> int:
        """How many events the relay has not published yet."""
        with self.engine.connect() as conn:
            count = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
            return int(count.scalar_one())


@pytest.fixture
def outbox(service_engine: Engine) -> Outbox:
    """The outbox of the service under test; its conftest says which (`service_engine`)."""
    return Outbox(service_engine)


def eventually(probe: Callable[[], Any], *, timeout: float = 20) -> Any:
    """The first truthy result of `probe`, retried until the timeout (then its last result)."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)
