"""The gateway: the one public door. Authenticates API keys, scopes every call to the key's
workspace, limits rates and body sizes, and forwards to the service that owns the path."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from gateway import keys
from gateway.limits import RateLimiter
from gateway.openapi import merged_openapi
from gateway.routing import Upstreams, forward
from gateway.settings import GatewaySettings
from services.common.http.problems import Problem
from services.common.runtime import ServiceSpec, create_service_app

VERSION = "0.1.0"
proxy = APIRouter()


def _settings(request: Request) -> GatewaySettings:
    return request.app.state.settings


def _caller(request: Request) -> keys.Caller:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(
            401,
            "unauthorized",
            "Authentication required",
            "Send `Authorization: Bearer <api key>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with Session(request.app.state.engine) as session:
        caller = keys.authenticate(session=session, key=token.strip())
    if caller is None:
        raise Problem(
            401, "invalid-api-key", "Invalid API key", "The API key is unknown or revoked."
        )
    return caller


@proxy.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> JSONResponse:
    state = request.app.state
    return JSONResponse(await merged_openapi(state.http, state.upstreams.urls, version=VERSION))


@proxy.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Qunyun API")


@proxy.api_route(
    "/v1/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def v1(request: Request, path: str) -> Response:
    caller = await run_in_threadpool(_caller, request)
    settings = _settings(request)
    wait = request.app.state.limiter.take(caller.key_id)
    if wait:
        raise Problem(
            429,
            "rate-limited",
            "Too many requests",
            f"This API key is limited to {settings.rate_limit_per_second:g} requests a second.",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    base_url = request.app.state.upstreams.resolve(request.url.path)
    if base_url is None:
        raise Problem(404, "not-found", "Not found", f"No API at {request.url.path}.")
    declared = request.headers.get("content-length", "")
    # The declared length refuses big bodies before reading them; the read length catches liars.
    if (declared.isdigit() and int(declared) > settings.max_body_bytes) or (
        len(body := await request.body()) > settings.max_body_bytes
    ):
        raise Problem(
            413,
            "payload-too-large",
            "Payload too large",
            f"Bodies are limited to {settings.max_body_bytes} bytes.",
        )
    return await forward(
        request,
        client=request.app.state.http,
        base_url=base_url,
        caller=caller,
        internal_token=settings.internal_token,
        body=body,
    )


@asynccontextmanager
async def _gateway_state(app: FastAPI) -> AsyncIterator[None]:
    settings: GatewaySettings = app.state.settings
    if settings.bootstrap_api_key:
        with Session(app.state.engine) as session:
            keys.ensure_api_key(
                session=session,
                workspace_id=settings.bootstrap_workspace_id,
                name="bootstrap",
                key=settings.bootstrap_api_key,
            )
            session.commit()
    app.state.upstreams = Upstreams.from_settings(settings)
    app.state.limiter = RateLimiter(
        per_second=settings.rate_limit_per_second, burst=settings.rate_limit_burst
    )
    async with httpx.AsyncClient(
        timeout=settings.upstream_timeout_seconds, limits=httpx.Limits(max_connections=200)
    ) as client:
        app.state.http = client
        yield


SPEC = ServiceSpec(
    name="gateway",
    version=VERSION,
    routers=[proxy],
    migrations_dir=Path(__file__).parent / "migrations",
    lifespan_hooks=[_gateway_state],
)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    return create_service_app(
        SPEC, settings or GatewaySettings(), openapi_url=None, docs_url=None, redoc_url=None
    )
