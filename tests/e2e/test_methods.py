"""Every path of the public document asked with a method it does not declare is a 405
problem naming the methods it does declare.

Schemathesis's coverage phase sent the same requests (about 1,000 of its ~11,000 cases, a
tenth of the phase's time: one per path and undeclared method, each through all its checks)
and only checked for a 405 with an `Allow` header present; here they are plain requests, and
the header must name exactly what the document declares. tests/e2e/schemathesis.toml turns
that part of its coverage phase off.
"""

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from deploy.local.stack import Stack
from tests.e2e.api_keys import workspace_key

PROBLEM = "application/problem+json"
DOCUMENTED = ("get", "put", "post", "delete", "patch")
# What schemathesis sent to each path besides the declared ones (OPTIONS is CORS's).
UNDECLARED = ("GET", "PUT", "POST", "DELETE", "PATCH", "TRACE")


@pytest.fixture(scope="module")
def client_api(stack: Stack) -> Iterator[httpx.Client]:
    key = workspace_key(stack, "ws_methods")
    with httpx.Client(
        base_url=stack.url("gateway"), timeout=15, headers={"Authorization": f"Bearer {key}"}
    ) as client:
        yield client


def _concrete(path: str) -> str:
    """The path with each parameter filled in, as a client would send it."""
    return re.sub(r"\{[^}]+\}", "x0", path)


def _matches(template: str, path: str) -> bool:
    return re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path) is not None


def test_undeclared_methods_are_405_problems_naming_the_declared_ones(
    client_api: httpx.Client,
) -> None:
    document: dict[str, Any] = client_api.get("/openapi.json").json()
    paths: dict[str, dict[str, Any]] = document["paths"]
    wrong = []
    asked = 0
    for template, item in paths.items():
        declared = {method.upper() for method in item if method in DOCUMENTED}
        path = _concrete(template)
        for method in UNDECLARED:
            if method in declared:
                continue
            # `/segments/preview` asked with GET is `/segments/{segment_id}`: another
            # operation's, answered by it (a 404 for a made-up community), not a 405.
            if any(
                method.lower() in other and _matches(other_template, path)
                for other_template, other in paths.items()
                if other_template != template
            ):
                continue
            response = client_api.request(method, path)
            asked += 1
            allow = {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}
            if (
                response.status_code != 405
                or response.headers.get("content-type") != PROBLEM
                or allow != declared
            ):
                wrong.append(
                    (method, template, response.status_code, response.headers.get("allow"))
                )
    assert not wrong, wrong
    # Every path but a few is asked at least once; a document shrunk to nothing proves nothing.
    assert asked >= 4 * len(paths) > 400


def test_options_and_query_are_no_server_error(client_api: httpx.Client) -> None:
    """The two methods schemathesis also sent everywhere: OPTIONS (answered for CORS) and the
    draft QUERY. Neither may be a 5xx; QUERY is refused as a 405 problem naming the declared
    methods (a path a service owns was once answered with an empty `Allow`)."""
    paths = client_api.get("/openapi.json").json()["paths"]
    for template, item in paths.items():
        path = _concrete(template)
        options = client_api.request("OPTIONS", path)
        assert options.status_code < 500, (template, options.status_code)
        query = client_api.request("QUERY", path)
        assert query.status_code == 405, (template, query.status_code)
        assert query.headers.get("content-type") == PROBLEM, (template, query.headers)
        if not any(_matches(other, path) for other in paths if other != template):
            declared = {method.upper() for method in item if method in DOCUMENTED}
            allow = {m.strip() for m in query.headers.get("allow", "").split(",")}
            assert allow == declared, (template, query.headers.get("allow"))
