"""The scope each route needs, in one table, and how the OpenAPI document shows it.

- Proxied routes, by the service that owns the path and the method: `GET`, `HEAD` and
  `OPTIONS` need `<service>:read`, any other method `<service>:write`. Metrics has only
  `metrics:read`; its one write (alert thresholds) is configuration and needs `admin`.
- The gateway's own routes declare theirs with `require_scope(...)`: `/v1/webhooks/...`
  `webhooks:manage`, `/v1/integrations` and `/v1/api-keys` `admin`. A bot's signed push
  (`/v1/inbound/{id}`) takes no key, so no scope.

Each operation of the document carries its scope as `x-required-scope` and in its
`security` requirement (OpenAPI 3.1 lets a bearer scheme list roles), and documents the 403.
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from gateway.access.callers import Caller
from gateway.access.deps import authenticated, caller_of, ensure_scope
from gateway.access.problems import InvalidToken, MissingScope
from gateway.access.scopes import ADMIN
from gateway.traffic.routing import ROUTES
from services.common.http.problems import MEDIA_TYPE, ProblemKind, problem_response_doc

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# (reading, changing) per service behind the gateway. A service missing here needs `admin`:
# a path routed before its scopes are named is closed, not open.
SERVICE_SCOPES: dict[str, tuple[str, str]] = {
    "members": ("members:read", "members:write"),
    "content": ("content:read", "content:write"),
    "events": ("events:read", "events:write"),
    "metrics": ("metrics:read", ADMIN),
}
_OPERATIONS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def proxied_scope(method: str, path: str) -> str | None:
    """The scope a call forwarded to a service needs; None for a path no service owns."""
    for pattern, service in ROUTES:
        if pattern.match(path):
            reading, changing = SERVICE_SCOPES.get(service, (ADMIN, ADMIN))
            return reading if method.upper() in READ_METHODS else changing
    return None


async def proxied_caller(request: Request) -> Caller:
    """The caller of a proxied path (authenticated, its budget spent), if it holds the scope
    the path and method need. Called by the proxy route itself, not as a FastAPI dependency:
    solving a dependency graph on every proxied call cost more CPU than the checks."""
    caller = await caller_of(request)
    scope = proxied_scope(request.scope["method"], request.scope["path"])
    return caller if scope is None else ensure_scope(caller, scope)


def _declared(dependant: Dependant) -> tuple[set[str], bool]:
    """The scopes a route's dependencies demand, and whether it authenticates at all."""
    scopes: set[str] = set()
    authenticates = False
    for dependency in dependant.dependencies:
        scope = getattr(dependency.call, "required_scope", None)
        if scope is not None:
            scopes.add(scope)
        authenticates = authenticates or dependency.call in (authenticated, caller_of)
        inner, inner_authenticates = _declared(dependency)
        scopes |= inner
        authenticates = authenticates or inner_authenticates
    return scopes, authenticates


class ScopeTable:
    """Every operation of the gateway's own routes → the scope it needs (None: no key)."""

    def __init__(self, app: FastAPI):
        self.own: dict[tuple[str, str], str | None] = {}
        self.unscoped: list[tuple[str, str]] = []  # authenticated, yet no scope declared
        for route in iter_route_contexts(app.routes):
            if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
                continue
            if route.dependant is None:
                continue
            scopes, authenticates = _declared(route.dependant)
            # A route authenticating by hand (a key or a signature) declares its scope here.
            if extra_scope := (route.openapi_extra or {}).get("x-required-scope"):
                scopes.add(extra_scope)
            path = route.path or ""
            if len(scopes) > 1:  # a caller would need each: one scope per route keeps it plain
                raise RuntimeError(f"{path} declares scopes {sorted(scopes)}; declare one")
            for method in route.methods or ():
                key = (method.upper(), path)
                self.own[key] = next(iter(scopes), None)
                if authenticates and not scopes:
                    self.unscoped.append(key)

    def scope(self, method: str, path: str) -> str | None:
        """The scope of an operation of the merged document: own routes by their template,
        the services' by the proxy's rule (a template matches the patterns as a path does)."""
        key = (method.upper(), path)
        if key in self.own:
            return self.own[key]
        return proxied_scope(method, path)


def scope_table(app: FastAPI) -> ScopeTable:
    """The app's table, built once (the routes do not change after start-up)."""
    table: ScopeTable | None = getattr(app.state, "scope_table", None)
    if table is None:
        table = app.state.scope_table = ScopeTable(app)
    return table


def declare_scopes(doc: dict[str, Any], table: ScopeTable) -> None:
    """Name the scope of every keyed operation in the merged document, and its 403."""
    schemes = doc.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["ConsoleToken"] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A console token (claims `sub`, `workspace_id`, `scope`); see docs/auth.md.",
    }
    doc["security"] = [{"ApiKey": []}, {"ConsoleToken": []}]
    missing = MissingScope.kind
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _OPERATIONS or operation.get("security") == []:
                continue
            scope = table.scope(method, path)
            if scope is None:
                continue
            operation["x-required-scope"] = scope
            operation["security"] = [{"ApiKey": [scope]}, {"ConsoleToken": [scope]}]
            responses = operation.setdefault("responses", {})
            _add_problem(responses, "403", missing)
            _add_problem(responses, "401", InvalidToken.kind)


def _add_problem(responses: dict[str, Any], status: str, kind: ProblemKind) -> None:
    """Document `kind` among the problems an operation answers with `status`."""
    doc = problem_response_doc([kind])
    existing = responses.get(status)
    if not existing or MEDIA_TYPE not in existing.get("content", {}):
        responses[status] = doc
        return
    examples = existing["content"][MEDIA_TYPE].setdefault("examples", {})
    if kind.slug not in examples:
        examples[kind.slug] = doc["content"][MEDIA_TYPE]["examples"][kind.slug]
        existing["description"] = f"{existing.get('description', '')}; {doc['description']}"
