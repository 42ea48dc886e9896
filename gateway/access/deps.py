"""Who is calling, and whether they may: `CallerDep` authenticates an API key or a console
token; `require_scope(scope)` also demands a scope (403 `missing-scope` naming it):

    @router.post("/ingest/messages")
    def ingest(caller: Annotated[Caller, Depends(require_scope("ingest:write"))]): ...

    router = APIRouter(dependencies=[Depends(require_scope("webhooks:manage"))])

A route that takes either a key or something else (bulk ingestion also takes an integration's
signature) authenticates by hand, checks with `ensure_scope(caller, "ingest:write")` on the
key's path, and declares the scope with `openapi_extra={"x-required-scope": "ingest:write"}`
so the route table (routes.py) and the OpenAPI document know it.

Neither asks the database on the hot path: keys come from `KeyVerdicts`, tokens are
checked by signature alone.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from gateway.access import service
from gateway.access.callers import Caller
from gateway.access.problems import REALM, MissingScope
from gateway.access.scopes import ADMIN, Scope
from gateway.access.tokens import ConsoleTokens, looks_like_jwt
from gateway.access.verdicts import KeyVerdicts
from gateway.settings import GatewaySettings
from gateway.traffic.limits import spend
from services.common.http.problems import Problem


def _look_up(request: Request) -> Callable[[str], Caller | None]:
    def look_up(key: str) -> Caller | None:
        with Session(request.app.state.engine) as session:
            caller = service.authenticate(session=session, key=key, now=datetime.now(UTC))
            session.commit()  # the use noted, at most once a minute per key
            return caller

    return look_up


def _credential(request: Request) -> str:
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise Problem(
            401,
            "unauthorized",
            "Authentication required",
            "Send `Authorization: Bearer <api key or console token>`.",
            headers={"WWW-Authenticate": REALM},
        )
    return credential


def _admitted(request: Request, caller: Caller | None) -> Caller:
    if caller is None:
        raise Problem(
            401,
            "invalid-api-key",
            "Invalid API key",
            "The API key is unknown or revoked.",
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        )
    spend(request, caller)
    return caller


def authenticated(request: Request) -> Caller:
    """The caller behind the bearer key or token, or a 401; a 429 past its rate limit.
    Blocking (a key not in the verdict cache is looked up): for code already off the loop."""
    credential = _credential(request)
    caller: Caller | None
    if looks_like_jwt(credential):
        caller = request.app.state.console_tokens.caller(credential)
    else:
        caller = request.app.state.key_verdicts.caller(credential, _look_up(request))
    return _admitted(request, caller)


async def caller_of(request: Request) -> Caller:
    """`authenticated` as a dependency: on the event loop when the key's verdict is cached
    (nearly every call) or the credential is a token, checked by signature alone; only a
    key that must be looked up goes through the thread pool."""
    credential = _credential(request)
    caller: Caller | None
    if looks_like_jwt(credential):
        caller = request.app.state.console_tokens.caller(credential)
    else:
        verdicts: KeyVerdicts = request.app.state.key_verdicts
        caller = verdicts.remembered(credential)
        if caller is None:
            caller = await run_in_threadpool(verdicts.caller, credential, _look_up(request))
    return _admitted(request, caller)


CallerDep = Annotated[Caller, Depends(caller_of)]


def require_scope(scope: Scope) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency: the caller, if it holds `scope` (or `admin`), else a 403 naming it."""

    async def scoped(caller: CallerDep) -> Caller:  # no blocking work: no thread pool hop
        return ensure_scope(caller, scope)

    scoped.required_scope = scope  # type: ignore[attr-defined]  # read by routes.route_scopes
    return scoped


def ensure_scope(caller: Caller, scope: str) -> Caller:
    """The caller, if it holds `scope` (or `admin`), else the 403 `require_scope` gives."""
    if not caller.allows(scope):
        raise MissingScope(required_scope=scope, granted_scopes=sorted(caller.scopes))
    return caller


AdminDep = Annotated[Caller, Depends(require_scope(ADMIN))]


@asynccontextmanager
async def access_state(app: FastAPI) -> AsyncIterator[None]:
    """The bootstrap key (every scope), the key verdict cache, the console token checker."""
    settings: GatewaySettings = app.state.settings
    if settings.bootstrap_api_key:
        with Session(app.state.engine) as session:
            service.ensure_api_key(
                session=session,
                workspace_id=settings.bootstrap_workspace_id,
                name="bootstrap",
                key=settings.bootstrap_api_key,
                scopes=[ADMIN],
            )
            session.commit()
    app.state.key_verdicts = KeyVerdicts(
        fresh_seconds=settings.api_key_cache_seconds,
        grace_seconds=settings.api_key_outage_grace_seconds,
    )
    app.state.console_tokens = ConsoleTokens(settings)
    yield
