"""Session-wide real infrastructure: one Postgres and one Kafka broker for the whole run,
on free ports, so `make test` works beside a running `make run`. Either is skipped when
DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS point at existing ones."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from deploy.local.kafka import KafkaBroker
from deploy.local.postgres import database_url, ensure_databases, throwaway_server
from deploy.local.processes import free_port, stop
from services.common.db import make_engine, migrate


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with throwaway_server("qunyun-test-pg-") as url:
        try:
            yield url
        finally:
            if not os.environ.get("DATABASE_URL"):  # a server of our own, about to stop
                _end_sessions(url)


def _end_sessions(server_url: str) -> None:
    """Close what the session left connected: the server's stop is a smart shutdown, which
    waits for every client to leave (up to its grace period, then it is killed)."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )


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
        # Killed, not stopped: its folder is thrown away with it, and a controlled shutdown
        # first closes each of the session's thousands of partitions.
        stop(broker.process, grace_seconds=0)
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
