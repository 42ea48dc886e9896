"""The gateway: the one public door. Authenticates API keys and console tokens and checks the
scope each route needs (gateway/access/), scopes every call to the caller's workspace, limits
rates and body sizes, forwards to the service that owns the path, and takes bots' signed
webhooks in."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import iter_route_contexts
from starlette.routing import Match, Route
from starlette.types import Scope

from gateway import integrations, pushes
from gateway.access import views as api_keys
from gateway.access.deps import access_state
from gateway.access.routes import declare_scopes, proxied_caller, scope_table
from gateway.bodies import read_body
from gateway.ingest import views as ingest
from gateway.ingest.publishing import ingest_producer
from gateway.ingest.service import prune_seen
from gateway.openapi import MergedDocument, merged_openapi
from gateway.settings import GatewaySettings
from gateway.traffic.forwarding import forward, upstream_session
from gateway.traffic.limits import RateLimiter, RateLimitHeaders
from gateway.traffic.routing import Upstreams, owned
from gateway.webhooks import views as webhooks
from services.common.contracts import topics
from services.common.http.problems import Problem, allowed_methods
from services.common.periodic import PeriodicJob
from services.common.runtime import ServiceSpec, create_service_app

VERSION = "0.2.0"
proxy = APIRouter()


@proxy.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> Response:
    state = request.app.state
    body = await state.openapi.body(state.http, state.upstreams.urls)
    return Response(body, media_type="application/json")


@proxy.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Qunyun API")


async def v1(request: Request) -> Response:
    """Every call under /v1 the gateway does not answer itself, forwarded to its service."""
    caller = await proxied_caller(request)
    upstreams: Upstreams = request.app.state.upstreams
    target: str = request.scope["path"]  # not request.url, parsed anew on each call
    upstream = upstreams.owner(target)
    if upstream is None:
        allowed = allowed_methods(request.app, target)
        if allowed:  # one of the gateway's own paths, asked with another method
            raise Problem(
                405,
                "method-not-allowed",
                "Method not allowed",
                headers={"Allow": ", ".join(allowed)},
            )
        raise Problem(404, "not-found", "Not found", f"No API at {target}.")
    settings: GatewaySettings = request.app.state.settings
    return await forward(
        request,
        client=request.app.state.http,
        upstream=upstream,
        timeout=upstreams.timeout(target),
        caller=caller,
        internal_token=settings.internal_token,
        body=await read_body(request),
    )


class ProxyRoute(Route):
    """`/v1/...` to `v1`, every method but HEAD (Starlette adds it to GET; the proxy never
    forwarded HEAD), so the service that owns a path answers 405 with its `Allow`.

    A plain Starlette route, not a FastAPI one: `v1` takes nothing FastAPI would parse, and
    resolving its caller by hand spares each proxied call FastAPI's dependency solving (about
    0.1 ms of CPU). `services_only`: it matches only paths a service owns, so it can be tried
    before every other route (no path of the gateway's own is a service's, checked in
    `create_app`) and a proxied call is not first matched against each of the gateway's
    routes (about 0.1 ms more)."""

    def __init__(self, *, services_only: bool):
        super().__init__(
            "/v1/{path:path}",
            v1,
            # QUERY too: the service that owns the path answers its 405 with the `Allow` of
            # its own routes; refused here, the gateway knew none of them and sent it empty.
            methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "QUERY"],
            include_in_schema=False,
        )
        assert self.methods is not None
        self.methods.discard("HEAD")
        self.services_only = services_only

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self.services_only and not (scope["type"] == "http" and owned(scope["path"])):
            return Match.NONE, {}
        return super().matches(scope)


# Last of all: the rest of /v1, answered 404, or 405 for a gateway path asked another way.
proxy.routes.append(ProxyRoute(services_only=False))


@asynccontextmanager
async def _gateway_state(app: FastAPI) -> AsyncIterator[None]:
    settings: GatewaySettings = app.state.settings
    app.state.upstreams = Upstreams.from_settings(settings)
    app.state.rate_limits = RateLimiter.from_settings(settings)

    def merge(parts: list[dict[str, Any] | None]) -> dict[str, Any]:
        # The gateway's own routes (integrations, inbound webhooks) and the services'.
        doc = merged_openapi(
            parts,
            own=app.openapi(),
            version=VERSION,
            server_url=settings.public_url,
        )
        declare_scopes(doc, scope_table(app))
        return doc

    app.state.openapi = MergedDocument(merge, refresh_seconds=settings.openapi_refresh_seconds)
    # One pool for the process: connections to the services stay open between calls.
    async with upstream_session() as client:
        app.state.http = client
        yield


SPEC = ServiceSpec(
    name="gateway",
    version=VERSION,
    # The gateway's own routes come before the catch-all proxy (the services' paths, which
    # are none of them, go first: `create_app`).
    routers=[
        integrations.router,
        pushes.router,
        webhooks.router,
        api_keys.router,
        ingest.router,
        proxy,
    ],
    migrations_dir=Path(__file__).parent / "migrations",
    produces=[topics.INGEST_MESSAGES],
    lifespan_hooks=[access_state, _gateway_state, pushes.push_state, ingest_producer],
    periodic=[PeriodicJob("prune-ingest-seen", 60, prune_seen)],
    screened_by_route=ingest.SCREENED_BY_ROUTE,
)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    # The merged document is served by `openapi` above; FastAPI's own would list only the proxy.
    app = create_service_app(SPEC, settings, openapi_url=None, docs_url=None, redoc_url=None)
    # Tried before every other route: the services' paths, then bots' pushes (neither is a
    # path of the other or of the gateway's own routes).
    app.router.routes[:0] = [ProxyRoute(services_only=True), pushes.PushRoute()]
    if taken := [r.path for r in iter_route_contexts(app.routes) if owned(r.path or "")]:
        raise RuntimeError(f"the gateway's own paths {taken} are routed to a service")
    # Around everything but CORS, so every answer says where its key stands, a 500 included.
    app.add_middleware(RateLimitHeaders)
    # Outermost, so preflights are answered here and even a 500 can be read by the browser.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_allow_origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"],
        expose_headers=[
            "Location",
            "Retry-After",
            "X-Request-Id",
            "Idempotent-Replayed",
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "RateLimit-Reset",
        ],
        max_age=settings.cors_max_age_seconds,
    )
    return app
