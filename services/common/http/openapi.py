"""One true OpenAPI document per app: short operation ids, problem responses as they are sent,
clean schema names, `Location` on 201s.

FastAPI documents 422s as `HTTPValidationError` in `application/json`, names schemas after
Python generics (`Page_MemberPublic_`) and operations after paths; clients generated from
that crash on the first error. `install_openapi` rewrites the document once, when built:

- every 422 is `application/problem+json` with the kit's `Problem` schema (and `errors[]`);
- a route's declared problems (`responses=problem_responses(...)`) keep their examples, and
  bare error responses (`{409: {"description": ...}}`) gain the Problem schema;
- operations with path parameters document the 404 they give for an unknown id, operations
  with a `cursor` the 400 for a bad one;
- 201s document `Location` (set it with `set_location`);
- `Page_MemberPublic_` becomes `MemberPage`.
"""

import re
from collections import Counter
from typing import Any

from fastapi import FastAPI, Response
from fastapi.routing import APIRoute, iter_route_contexts

from services.common.http.problems import (
    MEDIA_TYPE,
    ProblemKind,
    generic_problem,
    problem_kind,
    problem_response_doc,
    problem_schemas,
)

_HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_GENERIC_NAME = re.compile(r"^(?P<outer>[A-Za-z0-9]+)_(?P<inner>[A-Za-z0-9]+)_$")

LOCATION_HEADER_DOC = {
    "description": "The address of what was created.",
    "schema": {"type": "string"},
}


def operation_id(route: APIRoute) -> str:
    """`create_community` → `createCommunity`: the route function's name, camel-cased."""
    name = route.name.strip("_").removesuffix("_route")
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def check_operation_ids(app: FastAPI) -> None:
    """Fail at start-up when two operations would share an id."""
    ids: Counter[str] = Counter()
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            # One id per operation: a route serving two methods would give both the same one.
            ids[route.operation_id or route.unique_id] += len(route.methods or ()) or 1
    twice = sorted(name for name, count in ids.items() if count > 1)
    if twice:
        raise RuntimeError(
            f"operation ids used twice: {twice}; rename a route or pass operation_id="
        )


def set_location(response: Response, path: str) -> None:
    """The `Location` of a 201: where the created resource can be read."""
    response.headers["Location"] = path


def install_openapi(app: FastAPI, *, servers: list[dict[str, str]] | None = None) -> None:
    """Rewrite the app's generated document as described above, once, when first asked."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            tidy_document(document, servers=servers or [{"url": "/"}])
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def tidy_document(document: dict[str, Any], *, servers: list[dict[str, str]]) -> None:
    document.setdefault("servers", servers)
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in _HTTP_METHODS:
                _tidy_operation(path, operation)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    for name, schema in problem_schemas().items():
        schemas.setdefault(name, schema)
    _rename_generics(document)


def _tidy_operation(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    parameters = operation.get("parameters", [])
    kinds_by_status: dict[int, list[ProblemKind]] = {}

    def want(slug: str) -> None:
        kind = problem_kind(slug)
        if kind is not None:
            kinds_by_status.setdefault(kind.status, []).append(kind)

    if "422" in responses or "requestBody" in operation or parameters:
        want("validation-error")
    if "{" in path:
        want("not-found")
    if any(p.get("in") == "query" and p.get("name") == "cursor" for p in parameters):
        want("invalid-cursor")
    for code, kinds in kinds_by_status.items():
        responses[str(code)] = _merged(responses.get(str(code)), kinds)
    for status, response in responses.items():
        if status[:1] in ("3", "4", "5") and MEDIA_TYPE not in response.get("content", {}):
            generic = generic_problem(int(status))
            doc = problem_response_doc([generic] if generic else [])
            response["content"] = doc["content"]
            response.setdefault("description", doc["description"])
        if status == "201" or status.startswith("3"):
            response.setdefault("headers", {}).setdefault("Location", LOCATION_HEADER_DOC)


def _merged(existing: dict[str, Any] | None, kinds: list[ProblemKind]) -> dict[str, Any]:
    """The kit's problems for one status, joined with those the route declared."""
    doc = problem_response_doc(kinds)
    if existing and MEDIA_TYPE in existing.get("content", {}):
        declared = existing["content"][MEDIA_TYPE].get("examples", {})
        doc["content"][MEDIA_TYPE]["examples"] = {
            **doc["content"][MEDIA_TYPE]["examples"],
            **declared,
        }
        titles = [existing.get("description", ""), doc["description"]]
        doc["description"] = "; ".join(t for t in titles if t)
    elif existing and existing.get("description") not in (None, "", "Validation Error"):
        doc["description"] = f"{existing['description']} ({doc['description']})"
    return doc


def _rename_generics(document: dict[str, Any]) -> None:
    """`Page_MemberPublic_` → `MemberPage`, every `$ref` to it following."""
    schemas: dict[str, Any] = document["components"]["schemas"]
    renames: dict[str, str] = {}
    for name in list(schemas):
        match = _GENERIC_NAME.match(name)
        if not match:
            continue
        inner = match["inner"].removesuffix("Public")
        new = inner + match["outer"]
        if new in schemas or new in renames.values():
            continue  # a hand-made schema has that name already: keep the generated one
        renames[name] = new
    if not renames:
        return
    for old, new in renames.items():
        schema = schemas.pop(old)
        schema["title"] = new
        schemas[new] = schema
    prefix = "#/components/schemas/"

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix) and ref[len(prefix) :] in renames:
                node["$ref"] = prefix + renames[ref[len(prefix) :]]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
