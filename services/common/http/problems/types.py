"""The kinds of problem: each defined once, registered, raised by name."""

import dataclasses
import logging
import re
import string
from typing import TYPE_CHECKING, Any, ClassVar, cast, dataclass_transform

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
