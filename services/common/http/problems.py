"""RFC 9457 problem details: every error a client sees, with a machine-readable `type`.

Each kind of problem is defined once, as a class naming its status, title and how its
detail reads; its typed fields are the parameters a route passes when it raises it, and they
are published as extension members of the document, so clients read them without parsing
the detail::

    class MemberMerged(ProblemType, status=409, title="Member merged",
                       detail="{member_id} was merged into {survivor_id}."):
        member_id: str
        survivor_id: str

    raise MemberMerged(member_id=member.id, survivor_id=member.merged_into)
    # 409 application/problem+json
    # {"type": "https://qunyun.io/problems/member-merged", "title": "Member merged",
    #  "status": 409, "detail": "mbr_1 was merged into mbr_2.", "instance": "/v1/...",
    #  "member_id": "mbr_1", "survivor_id": "mbr_2"}

    @router.post("/merge", responses=problem_responses(MemberMerged, NotFound))

The slug (the end of `type`) is the class name in kebab case unless `slug=` says otherwise;
`field=` makes a 422 name the body field it is about; override `response_headers` for a
header such as `Location`. Every type registers itself (`registered_problems()`), so the
OpenAPI document lists them; a slug defined twice differently fails at import.

`Problem(status, slug, title, detail)`, `not_found` and `field_problem` stay for one-off cases.
"""

import dataclasses
import logging
import re
import string
from typing import TYPE_CHECKING, Any, ClassVar, cast, dataclass_transform

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://qunyun.io/problems/"
MEDIA_TYPE = "application/problem+json"
PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"


@dataclasses.dataclass(frozen=True)
class ProblemKind:
    """What the registry knows of a problem type: enough to document it."""

    slug: str
    status: int
    title: str
    detail: str | None = None
    params: tuple[str, ...] = ()
    field: str | None = None

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.slug


_REGISTRY: dict[str, ProblemKind] = {}


def register_problem(kind: ProblemKind) -> ProblemKind:
    """Record a problem type; the same slug may be registered again only identically."""
    known = _REGISTRY.get(kind.slug)
    if known is not None and known != kind:
        raise TypeError(f"problem type {kind.slug!r} is defined twice: {known} and {kind}")
    _REGISTRY[kind.slug] = kind
    return kind


def registered_problems() -> list[ProblemKind]:
    """Every problem type defined so far, by status then slug."""
    return sorted(_REGISTRY.values(), key=lambda k: (k.status, k.slug))


def problem_kind(slug: str) -> ProblemKind | None:
    return _REGISTRY.get(slug)


# The kit's own generic problems, one per status it answers with on its own.
_STATUS_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "The request is not valid"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal-error", "Internal error"),
    502: ("bad-gateway", "An upstream service failed"),
    503: ("unavailable", "Service unavailable"),
    504: ("gateway-timeout", "An upstream service did not answer in time"),
}


class Problem(Exception):
    """Raise to answer with a problem document; `slug` becomes the end of `type`."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(detail or title)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.headers, self.extra = headers, extra


# Members of the document itself, or attributes of Problem: no parameter may take them.
_RESERVED = frozenset(
    {"type", "title", "status", "detail", "instance", "errors", "headers", "slug", "extra", "kind"}
)


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name).lower()


@dataclass_transform(kw_only_default=True, eq_default=False)
class ProblemType(Problem):
    """Base of named problems: subclass it once per kind (see the module docstring)."""

    kind: ClassVar[ProblemKind]

    def __init_subclass__(
        cls,
        *,
        status: int,
        title: str,
        detail: str | None = None,
        slug: str | None = None,
        field: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(cls, kw_only=True, eq=False, repr=False)
        params = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        clashing = _RESERVED.intersection(params)
        if clashing:
            raise TypeError(f"{cls.__name__}: parameter names {sorted(clashing)} are reserved")
        placeholders = {
            name for _, name, _, _ in string.Formatter().parse(detail or "") if name is not None
        }
        unknown = placeholders - set(params)
        if unknown:
            raise TypeError(f"{cls.__name__}: detail names unknown parameters {sorted(unknown)}")
        if not 100 <= status <= 599:
            raise TypeError(f"{cls.__name__}: status {status} is not an HTTP status")
        cls.kind = register_problem(
            ProblemKind(slug or _kebab(cls.__name__), status, title, detail, params, field)
        )

    def __post_init__(self) -> None:
        kind = type(self).kind
        params = self.params()
        detail = kind.detail.format(**params) if kind.detail else None
        extra: dict[str, Any] = dict(params)
        if kind.field is not None:
            message = detail or kind.title
            extra["errors"] = [
                {"field": kind.field, "in": "body", "message": message, "code": kind.slug}
            ]
        Problem.__init__(
            self,
            kind.status,
            kind.slug,
            kind.title,
            detail,
            headers=self.response_headers(),
            **extra,
        )

    def params(self) -> dict[str, Any]:
        """The parameters this problem was raised with, as its extension members."""
        fields = dataclasses.fields(self)  # type: ignore[arg-type]
        return {f.name: getattr(self, f.name) for f in fields}

    def response_headers(self) -> dict[str, str] | None:
        """Override to send headers with the problem (e.g. `Location`, `Retry-After`)."""
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


class NoParameters:
    """For problems raised without parameters: `Kind()` (tells the type checker so)."""

    if TYPE_CHECKING:

        def __init__(self) -> None: ...


class NamesItsField:
    """For 422s about a body field known only when raised: `errors[]` names `field`."""

    field: str

    def __post_init__(self) -> None:
        super().__post_init__()  # type: ignore[misc]
        problem = cast(Problem, self)
        message = problem.detail or problem.title
        problem.extra["errors"] = [
            {"field": self.field, "in": "body", "message": message, "code": problem.slug}
        ]


class NotFound(
    ProblemType, status=404, title="Not found", detail="{resource} {resource_id} does not exist"
):
    resource: str
    resource_id: str


class InvalidCursor(
    ProblemType, status=400, title="Invalid cursor", detail="Pass back `next_cursor` unchanged."
):
    pass


for _status, (_slug, _title) in _STATUS_SLUGS.items():
    if _slug not in _REGISTRY:  # a named type above may already say more of it
        register_problem(ProblemKind(_slug, _status, _title))


def generic_problem(status: int) -> ProblemKind | None:
    """The kit's own problem for a status, as its handlers send it."""
    slug = _STATUS_SLUGS.get(status, ("", ""))[0]
    return _REGISTRY.get(slug)


def not_found(what: str, ident: str) -> Problem:
    return NotFound(resource=what, resource_id=ident)


def field_problem(field: str, message: str, slug: str = "validation-error") -> Problem:
    """A 422 naming one body field, shaped like request-validation errors."""
    return Problem(
        422,
        slug,
        "The request is not valid",
        message,
        errors=[{"field": field, "in": "body", "message": message, "code": slug}],
    )


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
            kind = _REGISTRY.get(slug) or ProblemKind(slug, item, "HTTP error")
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
