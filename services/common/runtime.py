"""The app factory every service uses: migrations at start, the outbox relay and the event
consumer in background threads, problem+json errors, observability and health endpoints."""

import functools
import gc
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError

from services.common.batch_folds import BatchFold, BatchHandler
from services.common.batches import BatchConsumer
from services.common.consumer import (
    ConsumerStatus,
    EventConsumer,
    Handler,
    prune_processed,
)
from services.common.contracts import topic_of
from services.common.db import make_engine, migrate
from services.common.http.health import Check, Readiness, health_router
from services.common.http.middleware import install_request_middleware
from services.common.http.openapi import check_operation_ids, install_openapi, operation_id
from services.common.http.outages import install_outage_handlers
from services.common.http.problems import (
    ProblemKind,
    install_problem_handlers,
    problem_response,
    register_problem,
)
from services.common.kafka import (
    KafkaEventSource,
    KafkaPublisher,
    broker_reachable,
    ensure_topics,
)
from services.common.observability import configure_logging
from services.common.outages import database_down
from services.common.outbox import OutboxRelay
from services.common.periodic import PeriodicJob, run_periodic
from services.common.settings import ServiceSettings

log = logging.getLogger(__name__)

register_problem(ProblemKind("value-not-storable", 422, "The request is not valid"))


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    version: str
    routers: Sequence[APIRouter]
    migrations_dir: Path
    produces: Sequence[str] = ()
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    # Event types folded many at a time (see `services.common.consumer`); when any is given the
    # consumer runs in batch mode, the per-event handlers above serving the other types.
    batch_handlers: Mapping[str, BatchHandler | BatchFold[Any]] = field(default_factory=dict)
    description: str = ""
    # Entered after migrations, left before the engine closes: clients, caches, seeding.
    lifespan_hooks: Sequence[Callable[[FastAPI], AbstractAsyncContextManager[None]]] = ()
    periodic: Sequence[PeriodicJob] = ()
    # Paths whose routes check their JSON bodies for what no column holds themselves, item by
    # item (see `ScreenRequests`); every other body is screened before any route sees it.
    screened_by_route: Sequence[str] = ()
    # Events one batch transaction folds at most, unless `QUNYUN_CONSUMER_BATCH_MAX_EVENTS`
    # says otherwise.
    batch_max_events: int = 500


class _Workers:
    """The background threads of one process: set up Kafka, relay the outbox, consume events."""

    def __init__(self, spec: ServiceSpec, settings: ServiceSettings, engine: Engine):
        self.spec, self.settings, self.engine = spec, settings, engine
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.consumes = settings.consumer_enabled and bool({**spec.handlers, **spec.batch_handlers})
        self.consumer_status = ConsumerStatus()

    def readiness_checks(self) -> dict[str, Check]:
        """What this process needs to serve: its database; the broker only if it consumes (its
        HTTP API and outbox ride out a broker outage), and then its consumer working."""
        checks: dict[str, Check] = {"database": lambda: database_down(self.engine)}
        if self.consumes:
            servers = self.settings.kafka_bootstrap_servers
            checks["broker"] = lambda: (
                None if broker_reachable(servers, timeout_seconds=2) else "broker unreachable"
            )
            checks["consumer"] = lambda: self.consumer_status.trouble
        return checks

    def start(self) -> None:
        self._spawn("kafka-setup", self._run)
        if self.settings.periodic_enabled:
            retention = timedelta(days=self.settings.processed_event_retention_days)
            jobs = [
                *self.spec.periodic,
                PeriodicJob(
                    "prune-processed-events",
                    3600,
                    functools.partial(prune_processed, retention=retention),
                ),
            ]
            self._spawn("periodic", lambda: run_periodic(self.engine, jobs, self.stop))

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"{self.spec.name}-{name}", daemon=True)
        thread.start()
        self.threads.append(thread)

    def _run(self) -> None:
        s = self.settings
        consumed = {**self.spec.handlers, **self.spec.batch_handlers}
        topics = set(self.spec.produces) | {topic_of(t) for t in consumed}
        relay = self._outbox_relay() if s.outbox_relay_enabled else None
        if relay is not None:
            relay.connect()  # while the topics are set up, not at its first row
        while not self.stop.is_set():
            try:
                ensure_topics(
                    s.kafka_bootstrap_servers,
                    [s.kafka_topic_prefix + t for t in topics],
                    partitions=s.kafka_partitions,
                    replication_factor=s.kafka_replication_factor,
                )
                break
            except Exception:
                log.warning("broker not reachable yet; retrying topic setup", exc_info=True)
                self.stop.wait(2)
        if self.stop.is_set():
            if relay is not None:
                relay.close()
            return
        if relay is not None:
            self._spawn("outbox-relay", functools.partial(relay.run, self.stop))
        if self.consumes:
            self._spawn("consumer", self._consume)

    def _publisher(self) -> KafkaPublisher:
        return KafkaPublisher(
            self.settings.kafka_bootstrap_servers,
            client_id=f"{self.spec.name}-relay",
            topic_prefix=self.settings.kafka_topic_prefix,
        )

    def _outbox_relay(self) -> OutboxRelay:
        s = self.settings
        return OutboxRelay(
            self.engine,
            self._publisher,
            batch_size=s.outbox_batch_size,
            poll_seconds=s.outbox_poll_seconds,
            retention=timedelta(hours=s.outbox_retention_hours),
        )

    def _consume(self) -> None:
        s = self.settings
        consumed = {**self.spec.handlers, **self.spec.batch_handlers}
        topics = sorted({s.kafka_topic_prefix + topic_of(t) for t in consumed})
        batches = bool(self.spec.batch_handlers)
        batch_max_events = s.consumer_batch_max_events or self.spec.batch_max_events
        while not self.stop.is_set():
            dead_letters = None
            try:
                dead_letters = KafkaPublisher(
                    s.kafka_bootstrap_servers, client_id=f"{self.spec.name}-dlq"
                )
                source = KafkaEventSource(
                    s.kafka_bootstrap_servers,
                    group_id=f"{s.kafka_topic_prefix}qunyun-{self.spec.name}",
                    topics=topics,
                    client_id=f"{self.spec.name}-consumer",
                    max_poll_records=batch_max_events if batches else 100,
                )
                options: dict[str, Any] = {
                    "name": self.spec.name,
                    "handlers": self.spec.handlers,
                    "dead_letters": dead_letters,
                    "max_attempts": s.consumer_max_attempts,
                    "backoff_seconds": s.consumer_backoff_seconds,
                    "backoff_max_seconds": s.consumer_backoff_max_seconds,
                    "status": self.consumer_status,
                }
                if batches:
                    BatchConsumer(
                        self.engine,
                        batch_handlers=self.spec.batch_handlers,
                        batch_max_events=batch_max_events,
                        batch_max_bytes=s.consumer_batch_max_bytes,
                        **options,
                    ).run_batches(source, self.stop, poll_seconds=s.consumer_poll_seconds)
                else:
                    EventConsumer(self.engine, **options).run(
                        source, self.stop, poll_seconds=s.consumer_poll_seconds
                    )
            except Exception as exc:
                self.consumer_status.pause(f"consumer restarting: {type(exc).__name__}: {exc}")
                log.exception("consumer crashed; restarting")
                self.stop.wait(2)
            finally:
                if dead_letters is not None:
                    dead_letters.close()

    def shutdown(self, timeout: float = 10) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)


def create_service_app(
    spec: ServiceSpec, settings: ServiceSettings | None = None, **fastapi_options: Any
) -> FastAPI:
    settings = settings or ServiceSettings()

    # Before uvicorn logs its first line about this app, so every line is JSON.
    configure_logging(spec.name, settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The app's settings as of this start, not as of its building: integration tests build
        # each service's app once (a second of CPU for the routes and the document) and start
        # it again per test on that test's database and topics.
        run_settings: ServiceSettings = app.state.settings
        engine = make_engine(run_settings.database_url)
        migrate(engine, spec.migrations_dir)
        app.state.engine = engine
        # Built now, not on the first request: the gateway asks for it with a timeout.
        app.openapi()
        workers = _Workers(spec, run_settings, engine)
        try:
            async with AsyncExitStack() as hooks:
                for hook in spec.lifespan_hooks:
                    await hooks.enter_async_context(hook(app))
                # What exists now (routes, schemas, settings, models: ~160,000 objects) never
                # becomes garbage, yet every older-generation pass of the collector walked it
                # again; bulk ingestion and the chat folds make so many short-lived objects
                # that those passes are frequent (9 of the gateway's ~50 µs of CPU a message
                # ingested, 3 once frozen). Frozen, the collector skips it.
                gc.freeze()
                workers.start()
                app.state.readiness = Readiness(workers.readiness_checks())
                app.state.readiness.start(workers.stop)
                log.info("service started", extra={"service": spec.name})
                try:
                    yield
                finally:
                    workers.shutdown()
                    # A process that starts apps again (the integration tests) lets the
                    # collector reach this app's objects once it is gone.
                    gc.unfreeze()
        finally:
            engine.dispose()

    fastapi_options.setdefault("generate_unique_id_function", operation_id)
    app = FastAPI(
        title=f"Qunyun {spec.name}",
        version=spec.version,
        description=spec.description,
        lifespan=lifespan,
        # `/v1/things/` redirected to `/v1/things` with this process's own address, which
        # behind the gateway is an internal one: a trailing slash is a 404 instead.
        redirect_slashes=False,
        # Prometheus is what these processes export (`/metrics`). FastAPI's OpenTelemetry
        # hooks looked for a configured provider on every request, none ever set: 2 % of the
        # gateway's CPU a signed push (py-spy, `python -m bench gateway`).
        telemetry={"tracing": False, "metrics": False, "logs": False},
        **fastapi_options,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    app.add_exception_handler(DataError, _refused_by_database)
    app.add_exception_handler(IntegrityError, _refused_by_database)
    install_outage_handlers(app)
    install_request_middleware(app, screened_by_route=tuple(spec.screened_by_route))
    install_openapi(app)
    app.include_router(health_router())
    for router in spec.routers:
        app.include_router(router)
    check_operation_ids(app)
    return app


async def _refused_by_database(request: Request, exc: Exception) -> Response:
    """A value the database refuses (out of range, malformed, missing, taken) is the caller's.

    The screening middleware and request schemas refuse such input first; this is the net
    under them. It never repeats the statement, its parameters or the row.
    """
    reason = type(getattr(exc, "orig", exc)).__name__
    log.warning("database refused a value", extra={"error": reason})
    if reason == "UniqueViolation":
        return problem_response(
            409,
            "conflict",
            "Conflict",
            "Something with the same identifying values exists already.",
            request.url.path,
        )
    return problem_response(
        422,
        "value-not-storable",
        "The request is not valid",
        "A value in the request is out of range, missing or malformed for where it is stored.",
        request.url.path,
    )
