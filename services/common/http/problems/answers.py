"""Problems on the wire: the problem document and its schema, each route's documented
problems, and the handlers that answer every exception as `application/problem+json`."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.http.problems.types import (
    _STATUS_SLUGS,
    MEDIA_TYPE,
    PROBLEM_BASE,
    PROBLEM_SCHEMA_REF,
    Problem,
    ProblemKind,
    ProblemType,
    problem_kind,
)

log = logging.getLogger("services.common.http.problems")


class FieldError(BaseModel):
    """One reason a request is not valid."""

    field: str = Field(description="Dotted path of the field, or `body` for the whole body.")
    in_: str = Field(alias="in", description="`body`, `query`, `path` or `header`.")
    message: str
    code: str = Field(description="Machine-readable reason, e.g. `missing`, `extra_forbidden`.")


class ProblemDocument(BaseModel):
    """An RFC 9457 problem document; named problems add their parameters as members."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(description="A URI naming the kind of problem; stable, compare it.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(None, description="The path of the request.")
    errors: list[FieldError] | None = Field(None, description="On 422: one entry per field.")


def problem_responses(*types: type[ProblemType] | ProblemKind | int) -> dict[int | str, Any]:
    """FastAPI `responses=` documenting the problems a route can answer with.

    Pass named problem classes, registered kinds, or bare statuses for the kit's generic ones.
    """
    by_status: dict[int, list[ProblemKind]] = {}
    for item in types:
        if isinstance(item, int):
            slug, _ = _STATUS_SLUGS.get(item, ("http-error", "HTTP error"))
            kind = problem_kind(slug) or ProblemKind(slug, item, "HTTP error")
        elif isinstance(item, ProblemKind):
            kind = item
        else:
            kind = item.kind
        listed = by_status.setdefault(kind.status, [])
        if kind not in listed:
            listed.append(kind)
    return {status: problem_response_doc(kinds) for status, kinds in sorted(by_status.items())}


def problem_response_doc(kinds: list[ProblemKind]) -> dict[str, Any]:
    """One OpenAPI response object for problems of one status."""
    return {
        "description": "; ".join(f"`{k.slug}`: {k.title}" for k in kinds),
        "content": {
            MEDIA_TYPE: {
                "schema": {"$ref": PROBLEM_SCHEMA_REF},
                "examples": {
                    k.slug: {
                        "summary": k.title,
                        "value": {"type": k.type_uri, "title": k.title, "status": k.status},
                    }
                    for k in kinds
                },
            }
        },
    }


def problem_schemas() -> dict[str, Any]:
    """The `components.schemas` entries the `$ref`s of `problem_responses` point at."""
    schema = ProblemDocument.model_json_schema(
        by_alias=True, ref_template="#/components/schemas/{model}"
    )
    defs = schema.pop("$defs", {})
    return {"Problem": schema, **defs}


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(
        jsonable_encoder(body), status_code=status, media_type=MEDIA_TYPE, headers=headers
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        where = loc[0] if loc else "body"
        # A body that is not JSON at all is located at a character offset, not a field.
        field = where if err.get("type") == "json_invalid" else ".".join(loc[1:]) or where
        errors.append(
            {
                "field": field,
                "in": where,
                "message": err.get("msg", ""),
                "code": err.get("type", ""),
            }
        )
    return errors


def _document_problems(app: FastAPI) -> None:
    """Make the `$ref`s of `problem_responses` resolve in the app's OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in problem_schemas().items():
            schemas.setdefault(name, schema)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def allowed_methods(app: Any, path: str) -> list[str]:
    """The documented methods of the most specific templates of `app` matching `path`.

    `/segments/preview` matches `/segments/{segment_id}` too; its `Allow` is that of the
    template the document lists for it, the one with the fewest parameters.
    """
    by_template: dict[str, set[str]] = {}
    for route in iter_route_contexts(app.routes):
        regex = getattr(route, "path_regex", None)
        if route.include_in_schema and regex is not None and regex.match(path):
            by_template.setdefault(route.path or "", set()).update(route.methods or ())
    if not by_template:
        return []
    fewest = min(t.count("{") for t in by_template)
    methods = set().union(*(m for t, m in by_template.items() if t.count("{") == fewest))
    methods.discard("HEAD")  # implied by GET, and never in the document
    return sorted(methods)


def install_problem_handlers(app: FastAPI) -> None:
    _document_problems(app)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.slug,
            exc.title,
            exc.detail,
            request.url.path,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem_response(
            422,
            "validation-error",
            "The request is not valid",
            f"Check these fields: {fields}",
            request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug, title = _STATUS_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # Starlette names the methods of the first route on the path only.
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # FastAPI's answer to a body that is not text; any other unreadable body is a 422.
            return problem_response(
                422,
                "validation-error",
                "The request is not valid",
                "The body is not valid JSON.",
                request.url.path,
                errors=[{"field": "body", "in": "body", "message": detail, "code": "json_invalid"}],
            )
        return problem_response(
            exc.status_code, slug, title, detail, request.url.path, headers=headers or None
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem_response(
            500,
            "internal-error",
            "Internal error",
            "Something went wrong on our side; the request id identifies it.",
            request.url.path,
        )
