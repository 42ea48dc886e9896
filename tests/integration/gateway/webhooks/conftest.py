"""Outbound webhooks on the real broker and database: the gateway app (in this process) for
the API, the dispatcher as a real process of its own (so it can be killed), and a receiver.

The retry schedule is compressed; only 127.0.0.2 (the receiver) is allow-listed, so 127.0.0.1
and 169.254.169.254 stay forbidden as in production."""

import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from deploy.local.processes import free_port, spawn, stop, wait_until
from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.common.cloudevents import CloudEvent
from services.common.contracts import EventData
from services.common.db import make_engine
from services.common.kafka import KafkaPublisher, OutgoingRecord
from tests.support.receiver import Receiver

SCHEDULE = "0,0.3,0.3,0.3,0.3,0.3"


class DispatcherProcess:
    def __init__(self, env: dict[str, str], log_path: Path):
        self.env, self.log_path = env, log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = spawn(
            [sys.executable, "-m", "gateway.webhooks", "--port", str(self.port)],
            log_path=self.log_path,
            env=self.env,
        )

        def ready() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{self.port}/readyz").status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(
            ready, timeout=60, what="dispatcher", process=self.process, log_path=self.log_path
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, leases are left behind."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.port}/metrics").text

    def stop(self) -> None:
        stop(self.process)


@pytest.fixture(scope="package")
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.fixture(scope="package")
def gateway_url(postgres_url: str) -> str:
    from deploy.local.postgres import database_url, ensure_databases

    name = f"wh_{uuid.uuid4().hex[:10]}"
    ensure_databases(postgres_url, [name])
    return database_url(postgres_url, name)


@pytest.fixture(scope="package")
def env(gateway_url: str, kafka_bootstrap: str, prefix: str) -> dict[str, str]:
    return {
        "QUNYUN_DATABASE_URL": gateway_url,
        "QUNYUN_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "QUNYUN_KAFKA_TOPIC_PREFIX": prefix,
        "QUNYUN_KAFKA_PARTITIONS": "3",
        "QUNYUN_WEBHOOK_RETRY_SCHEDULE": SCHEDULE,
        "QUNYUN_WEBHOOK_RETRY_JITTER": "0",
        "QUNYUN_WEBHOOK_ATTEMPT_TIMEOUT_SECONDS": "2",
        "QUNYUN_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.2/32",
    }


@pytest.fixture(scope="package")
def api_key() -> str:
    return "qy_" + secrets.token_urlsafe(24)


@pytest.fixture(scope="package")
def api(env: dict[str, str], api_key: str) -> Iterator[TestClient]:
    """The gateway (its API and its outbox relay) on the test database."""
    settings = GatewaySettings(
        database_url=env["QUNYUN_DATABASE_URL"],
        kafka_bootstrap_servers=env["QUNYUN_KAFKA_BOOTSTRAP_SERVERS"],
        kafka_topic_prefix=env["QUNYUN_KAFKA_TOPIC_PREFIX"],
        webhook_allowed_networks=env["QUNYUN_WEBHOOK_ALLOWED_NETWORKS"],
        bootstrap_workspace_id="ws_hooks",
        bootstrap_api_key=api_key,
        rate_limit_per_second=1000,
        rate_limit_burst=1000,
    )
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {api_key}"
        yield client


@pytest.fixture(scope="package")
def dispatcher(
    api: TestClient, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DispatcherProcess]:
    process = DispatcherProcess(
        {**os.environ, **env}, tmp_path_factory.mktemp("dispatcher") / "dispatcher.log"
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="package")
def receiver() -> Iterator[Receiver]:
    with Receiver("127.0.0.2") as r:
        yield r


@pytest.fixture(scope="package")
def engine(gateway_url: str, api: TestClient) -> Iterator[Engine]:
    e = make_engine(gateway_url, pool_size=2)
    yield e
    e.dispose()


@pytest.fixture(autouse=True)
def _endpoints_deleted_after(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test's endpoints go away after it. Tests also filter their endpoints to their own
    communities: under load, an earlier test's events may be consumed after the next test's
    endpoint exists."""
    yield
    if "api" in request.fixturenames:
        client: TestClient = request.getfixturevalue("api")
        for endpoint in client.get("/v1/webhooks/endpoints?limit=200").json()["data"]:
            client.delete(f"/v1/webhooks/endpoints/{endpoint['id']}")


class Events:
    """Publishes events the way services do (binary-mode CloudEvents keyed by community)."""

    def __init__(self, bootstrap: str, prefix: str):
        self._publisher = KafkaPublisher(bootstrap, client_id="test-events", topic_prefix=prefix)

    def publish(
        self, data: EventData, *, community_id: str | None, workspace_id: str = "ws_hooks"
    ) -> CloudEvent:
        return self.publish_many([data], community_id=community_id, workspace_id=workspace_id)[0]

    def publish_many(
        self, items: list[EventData], *, community_id: str | None, workspace_id: str = "ws_hooks"
    ) -> list[CloudEvent]:
        events = [
            d.to_event(
                source="/tests", workspace_id=workspace_id, community_id=community_id, subject=None
            )
            for d in items
        ]
        self._publisher.publish(
            [
                OutgoingRecord(
                    topic=d.topic, key=e.key, value=e.kafka_value(), headers=e.kafka_headers()
                )
                for d, e in zip(items, events, strict=True)
            ]
        )
        return events

    def close(self) -> None:
        self._publisher.close()


@pytest.fixture(scope="package")
def events(kafka_bootstrap: str, prefix: str, dispatcher: DispatcherProcess) -> Iterator[Events]:
    publisher = Events(kafka_bootstrap, prefix)
    yield publisher
    publisher.close()


def wait_for(condition, *, timeout: float = 20, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
