"""The webhook dispatcher as a process of its own: not the request path. It consumes every
topic with its own consumer group, keeps its queue and attempts in the gateway's database, and
serves `/healthz`, `/readyz` and `/metrics` like every process. Run it with
`python -m gateway.webhooks`; run more replicas to spread partitions and deliveries."""

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from gateway.webhooks.delivery import open_session
from gateway.webhooks.dispatcher import Dispatcher
from gateway.webhooks.ingest import run_ingest
from gateway.webhooks.settings import WebhookSettings
from services.common.contracts import topics
from services.common.runtime import ServiceSpec, create_service_app

VERSION = "0.1.0"
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


@asynccontextmanager
async def _dispatch(app: FastAPI) -> AsyncIterator[None]:
    settings: WebhookSettings = app.state.settings
    stop_ingest = threading.Event()
    stop = asyncio.Event()
    async with open_session(settings) as client:
        dispatcher = Dispatcher(app.state.engine, settings, client)
        ingest = threading.Thread(
            target=run_ingest,
            args=(app.state.engine, settings, stop_ingest, dispatcher.wake),
            name="webhooks-ingest",
            daemon=True,
        )
        delivering = asyncio.create_task(dispatcher.run(stop))
        ingest.start()
        app.state.dispatcher = dispatcher
        try:
            yield
        finally:
            stop_ingest.set()
            stop.set()
            with contextlib.suppress(Exception):
                await delivering
            await asyncio.to_thread(ingest.join, 10)


SPEC = ServiceSpec(
    name="webhooks",
    version=VERSION,
    description="Delivers the platform's events to subscribed endpoints, signed.",
    routers=[],
    migrations_dir=MIGRATIONS,
    # The outbox relay publishes `endpoint_disabled` even when the gateway is down.
    produces=[topics.WEBHOOKS],
    lifespan_hooks=[_dispatch],
)


def create_app(settings: WebhookSettings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or WebhookSettings())
