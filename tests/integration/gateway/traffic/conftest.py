"""The gateway as a real server (uvicorn, in a thread of this process) on the session's real
Postgres and Kafka, in front of upstreams the tests control: a small ASGI service that can be
stopped and started again on its port, and a socket server that drops every connection.

Every upstream URL of the gateway points at one of them: members, content and metrics at the
ASGI service, events at the dropping server.
"""

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlmodel import Session

from deploy.local.postgres import database_url, ensure_databases
from deploy.local.processes import free_port
from gateway.access.service import create_api_key
from gateway.app import create_app
from gateway.settings import GatewaySettings

WORKSPACE = "ws_traffic"
CHUNK = b"community_id,day,messages\n" + b"cmt_1,2026-11-30,12345\n" * 2800  # ~64 KiB
EXPORT_CHUNKS = 1024  # 64 MiB in all


def wait_for(condition: Callable[[], object], *, timeout: float = 20, what: str = "it") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Served:
    """An ASGI app under uvicorn in a thread; stopped and started again on the same port."""

    def __init__(self, app: Any, port: int | None = None):
        self.app, self.port = app, port or free_port()
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        server = self.server
        wait_for(lambda: server.started, timeout=60, what=f"a server on {self.port}")

    def stop(self) -> None:
        assert self.server is not None and self.thread is not None
        self.server.should_exit = True
        self.thread.join(15)


class Upstream:
    """What the service behind the gateway saw and how it answers."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        # Exports (by their `run` parameter) let go of their gate, and sent to the end.
        self.released: set[str] = set()
        self.finished: set[str] = set()
        self.app = self._app()

    def _app(self) -> FastAPI:
        app = FastAPI()
        upstream = self

        @app.get("/v1/communities/slow")
        async def slow() -> JSONResponse:
            await asyncio.sleep(3)
            return JSONResponse({"slow": True})

        @app.get("/v1/communities/{community_id}")
        async def community(community_id: str, request: Request) -> Response:
            upstream.seen.append(dict(request.headers))
            if community_id == "missing":
                return JSONResponse({"title": "Not found"}, status_code=404)
            return JSONResponse(
                {"id": community_id},
                headers={
                    "Keep-Alive": "timeout=99",
                    "Connection": "x-hop",
                    "X-Hop": "named in Connection",
                    "Cache-Control": "no-store",
                },
            )

        @app.post("/v1/communities")
        async def create(request: Request) -> JSONResponse:
            upstream.seen.append(dict(request.headers))
            return JSONResponse(
                {"id": "cmt_new"},
                status_code=201,
                headers={"Location": "/v1/communities/cmt_new"},
            )

        @app.get("/v1/metrics/communities/{community_id}/exports/daily.csv")
        async def export(
            community_id: str,
            run: str = "",
            wait: float = 0,
            gated: bool = False,
            chunks: int = EXPORT_CHUNKS,
        ) -> StreamingResponse:
            async def rows() -> AsyncIterator[bytes]:
                await asyncio.sleep(wait)  # a slow first row: the export timeout applies
                yield CHUNK
                # Gated: the rest only once the test has seen the first bytes arrive.
                while gated and run not in upstream.released:
                    await asyncio.sleep(0.01)
                for _ in range(chunks - 1):
                    yield CHUNK
                upstream.finished.add(run)

            return StreamingResponse(
                rows(),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'attachment; filename="daily.csv"'},
            )

        return app


class DroppingServer:
    """Reads each request, then closes the connection without a word: the gateway sees a
    connection error after its request may have arrived. Counts the requests it got."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[bytes] = []
        self._socket = socket.create_server(("127.0.0.1", self.port))
        self._socket.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(2)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = connection.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                except TimeoutError:
                    pass
                if data:
                    self.requests.append(data.split(b"\r\n", 1)[0])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._socket.close()


@pytest.fixture(scope="package")
def upstream() -> Iterator[tuple[Upstream, Served]]:
    service = Upstream()
    served = Served(service.app)
    served.start()
    yield service, served
    if served.server is not None and not served.server.should_exit:
        served.stop()


@pytest.fixture(scope="package")
def dropping() -> Iterator[DroppingServer]:
    server = DroppingServer()
    yield server
    server.close()


class Gateway:
    def __init__(self, served: Served, app: FastAPI):
        self.served, self.app = served, app

    @property
    def url(self) -> str:
        return self.served.url

    def new_key(self) -> str:
        """A key of its own for a test: its buckets are full."""
        with Session(self.app.state.engine) as session:
            _, key = create_api_key(
                session=session, workspace_id=WORKSPACE, name="traffic", scopes=["admin"]
            )
            session.commit()
        return key

    def client(self, key: str | None = None, **options: Any) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {key or self.new_key()}"},
            timeout=options.pop("timeout", 10),
            trust_env=False,
            **options,
        )

    def breaker_state(self, upstream: str) -> float:
        metrics = httpx.get(f"{self.url}/metrics", timeout=5).text
        line = f'qunyun_gateway_upstream_breaker_state{{upstream="{upstream}"}} '
        (value,) = [row[len(line) :] for row in metrics.splitlines() if row.startswith(line)]
        return float(value)


@pytest.fixture(scope="package")
def gateway(
    postgres_url: str,
    kafka_bootstrap: str,
    upstream: tuple[Upstream, Served],
    dropping: DroppingServer,
) -> Iterator[Gateway]:
    name = f"traffic_{uuid.uuid4().hex[:10]}"
    ensure_databases(postgres_url, [name])
    service_url = upstream[1].url
    settings = GatewaySettings(
        database_url=database_url(postgres_url, name),
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        internal_token="traffic-internal",
        bootstrap_workspace_id=WORKSPACE,
        members_url=service_url,
        content_url=service_url,
        metrics_url=service_url,
        events_url=dropping.url,
        upstream_timeout_seconds=1,
        upstream_export_timeout_seconds=5,
        breaker_failures=10,
        breaker_open_seconds=1,
        rate_limit_per_second=1,  # so nothing refills between a test's calls
        rate_limit_burst=1000,
        rate_limit_write_per_second=1,
        rate_limit_write_burst=5,
    )
    app = create_app(settings)
    served = Served(app)
    served.start()
    wait_for(
        lambda: httpx.get(f"{served.url}/readyz", timeout=2).status_code == 200,
        timeout=60,
        what="the gateway to be ready",
    )
    yield Gateway(served, app)
    served.stop()
