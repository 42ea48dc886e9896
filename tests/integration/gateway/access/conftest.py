"""The gateway on the real Postgres (and broker, for its outbox relay), in this process, in
front of a stand-in for the four services: it serves their real OpenAPI documents and answers
every other call 200, recording it, so a test sees whether a call got past the gateway.

Keys are made through the key service; console tokens are signed here with the configured
secret."""

import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from deploy.local.postgres import database_url, ensure_databases
from gateway.access import service
from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.common.db import make_engine

WORKSPACE = "ws_access"
SERVICES = ("members", "content", "events", "metrics")
TOKEN_SECRET = secrets.token_urlsafe(48)
ISSUER, AUDIENCE = "https://signin.test", "qunyun-api-test"


@dataclass(frozen=True)
class Reached:
    method: str
    path: str
    headers: dict[str, str]


class Services:
    """One HTTP server standing in for every service, each under its own base path."""

    def __init__(self) -> None:
        from services.content.app import create_app as content
        from services.events.app import create_app as events
        from services.members.app import create_app as members
        from services.metrics.app import create_app as metrics

        documents = {
            name: json.dumps(make().openapi()).encode()
            for name, make in zip(SERVICES, (members, content, events, metrics), strict=True)
        }
        self.reached: list[Reached] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                service_name, _, rest = self.path.lstrip("/").partition("/")
                if rest == "openapi.json":
                    body = documents[service_name]
                else:
                    stand_in.reached.append(
                        Reached(
                            self.command,
                            "/" + rest,
                            {k.lower(): v for k, v in self.headers.items()},
                        )
                    )
                    body = b"{}"
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_TRACE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, service_name: str) -> str:
        return f"{self.base}/{service_name}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="package")
def services() -> Iterator[Services]:
    stand_in = Services()
    yield stand_in
    stand_in.close()


@pytest.fixture(scope="package")
def gateway_url(postgres_url: str) -> str:
    name = f"access_{uuid.uuid4().hex[:10]}"
    ensure_databases(postgres_url, [name])
    return database_url(postgres_url, name)


@pytest.fixture(scope="package")
def admin_key() -> str:
    return "qy_" + secrets.token_urlsafe(24)


def gateway_settings(
    gateway_url: str, kafka_bootstrap: str, services: Services, **overrides: Any
) -> GatewaySettings:
    fields: dict[str, Any] = {
        "database_url": gateway_url,
        "kafka_bootstrap_servers": kafka_bootstrap,
        "kafka_topic_prefix": f"t{uuid.uuid4().hex[:8]}.",
        "bootstrap_workspace_id": WORKSPACE,
        "rate_limit_per_second": 100_000,
        "rate_limit_burst": 100_000,
        "console_token_secret": TOKEN_SECRET,
        "console_token_issuer": ISSUER,
        "console_token_audience": AUDIENCE,
        **{f"{name}_url": services.url(name) for name in SERVICES},
    }
    return GatewaySettings(**(fields | overrides))


@pytest.fixture(scope="package")
def gateway(
    gateway_url: str, kafka_bootstrap: str, services: Services, admin_key: str
) -> Iterator[TestClient]:
    """The gateway; its client speaks with the bootstrap key (admin) unless told otherwise."""
    settings = gateway_settings(gateway_url, kafka_bootstrap, services, bootstrap_api_key=admin_key)
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {admin_key}"
        yield client


@pytest.fixture(scope="package")
def engine(gateway_url: str, gateway: TestClient) -> Iterator[Engine]:
    e = make_engine(gateway_url, pool_size=2)
    yield e
    e.dispose()


@pytest.fixture(scope="package")
def make_key(engine: Engine) -> Callable[..., str]:
    """`make_key(["members:read"], workspace=...)`: a new key holding those scopes."""

    def make(scopes: list[str], *, workspace: str = WORKSPACE) -> str:
        with Session(engine) as session:
            _, key = service.create_api_key(
                session=session, workspace_id=workspace, name="test", scopes=scopes
            )
            session.commit()
        return key

    return make


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def console_token(
    *,
    scope: str | None = "members:read",
    workspace_id: str | None = WORKSPACE,
    key: Any = TOKEN_SECRET,
    algorithm: str = "HS256",
    **claims: Any,
) -> str:
    """A console token as the sign-in service makes one; `claims` override or add (None
    drops a claim)."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "usr_lin",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "workspace_id": workspace_id,
        "scope": scope,
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm=algorithm)
