"""Session-wide real infrastructure: one Postgres and one Kafka broker for the whole run,
on free ports, so `make test` works beside a running `make run`. Either is skipped when
DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS point at existing ones."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from deploy.local.kafka import KafkaBroker
from deploy.local.postgres import database_url, ensure_databases, throwaway_server
from deploy.local.processes import free_port
from services.common.db import make_engine, migrate


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with throwaway_server("qunyun-test-pg-") as url:
        yield url


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield servers
        return
    broker = KafkaBroker(
        tmp_path_factory.mktemp("kafka"), port=free_port(), controller_port=free_port()
    )
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture
def fresh_database_url(postgres_url: str) -> str:
    """A new, empty database for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    ensure_databases(postgres_url, [name])
    return database_url(postgres_url, name)


def migrated_engine(url: str, migrations_dir: Path) -> Engine:
    engine = make_engine(url, pool_size=5)
    migrate(engine, migrations_dir)
    return engine


@pytest.fixture
def unique_topic() -> str:
    return f"test.{uuid.uuid4().hex[:10]}.v1"
