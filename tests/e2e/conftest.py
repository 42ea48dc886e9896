"""The whole platform, started once for the e2e tests: every service and the gateway as real
processes, on free ports, against the session's real Postgres and Kafka.

Scoped to this package, not the session: the six processes idle at about a quarter of a core
together (consumers fetching, relays polling), which the integration and unit tests after
them would otherwise share the machine with until the session ends."""

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from deploy.local.postgres import database_url
from deploy.local.processes import free_port
from deploy.local.stack import SERVICES, Stack
from services.common.contracts import ALL_TOPICS
from services.common.kafka import ensure_topics


@pytest.fixture(scope="package")
def stack(
    postgres_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    ensure_topics(kafka_bootstrap, ALL_TOPICS, partitions=3)
    platform = Stack(
        run_dir=tmp_path_factory.mktemp("stack"),
        database_server_url=postgres_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        admin_api_key="qy_" + secrets.token_urlsafe(24),
        ports={name: free_port() for name in SERVICES},
        database_prefix="e2e_",
        # Generous per-key budgets: schemathesis's run sends thousands of requests with one
        # key, and at the defaults (100 at once, 50 a second) a third of its operations were
        # mostly answered 429 and never really fuzzed. The limits' own behaviour is tested in
        # tests/integration/gateway/traffic/test_limits.py.
        extra_env={
            "gateway": {
                f"QUNYUN_RATE_LIMIT{kind}_{what}": value
                for kind in ("", "_WRITE", "_INGEST")
                for what, value in (("PER_SECOND", "100000"), ("BURST", "100000"))
            }
        },
    )
    try:
        platform.start_all()
        yield platform
    finally:
        platform.stop_all()


@pytest.fixture(scope="package")
def api(stack: Stack) -> Iterator[httpx.Client]:
    """A client of the demo workspace, through the gateway."""
    with httpx.Client(
        base_url=stack.url("gateway"),
        timeout=15,
        headers={"Authorization": f"Bearer {stack.admin_api_key}"},
    ) as client:
        yield client


@pytest.fixture(scope="package")
def other_api(stack: Stack) -> Iterator[httpx.Client]:
    """A client of a second workspace, whose key is made with the gateway's key command."""
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.keys",
            "create",
            "--workspace",
            "ws_other",
            "--name",
            "e2e",
            # Its tests try the other workspace's members, metrics and integrations: the
            # tenant wall must answer 404 whatever the scopes, so this key holds them all.
            "--scope",
            "admin",
        ],
        env={
            **os.environ,
            "QUNYUN_DATABASE_URL": database_url(stack.database_server_url, "e2e_gateway"),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    key = made.stdout.strip()
    with httpx.Client(
        base_url=stack.url("gateway"), timeout=15, headers={"Authorization": f"Bearer {key}"}
    ) as client:
        yield client


def eventually(probe: Callable[[], object], *, timeout: float = 20) -> object:
    """The first truthy result of `probe`, which is retried until the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)
