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

The kinds of problem live in `types.py`; how they go out on the wire (documents, OpenAPI
responses, exception handlers) in `answers.py`.
"""

from services.common.http.problems.answers import (
    FieldError,
    ProblemDocument,
    allowed_methods,
    install_problem_handlers,
    problem_response,
    problem_response_doc,
    problem_responses,
    problem_schemas,
)
from services.common.http.problems.types import (
    MEDIA_TYPE,
    PROBLEM_BASE,
    PROBLEM_SCHEMA_REF,
    InvalidCursor,
    NamesItsField,
    NoParameters,
    NotFound,
    Problem,
    ProblemKind,
    ProblemType,
    field_problem,
    generic_problem,
    not_found,
    problem_kind,
    register_problem,
    registered_problems,
)

__all__ = [
    "MEDIA_TYPE",
    "PROBLEM_BASE",
    "PROBLEM_SCHEMA_REF",
    "FieldError",
    "InvalidCursor",
    "NamesItsField",
    "NoParameters",
    "NotFound",
    "Problem",
    "ProblemDocument",
    "ProblemKind",
    "ProblemType",
    "allowed_methods",
    "field_problem",
    "generic_problem",
    "install_problem_handlers",
    "not_found",
    "problem_kind",
    "problem_response",
    "problem_response_doc",
    "problem_responses",
    "problem_schemas",
    "register_problem",
    "registered_problems",
]
