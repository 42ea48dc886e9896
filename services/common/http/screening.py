"""Input no route can store, refused at the door as a problem rather than a 500 further in.

Postgres refuses NUL characters in text and integers beyond 64 bits, a proxied URL cannot
carry control characters, and JSON allows numbers no column holds. Checking every body, path
and query string here means no route, present or future, has to remember to.
"""

import json
import math
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.http.problems import problem_response

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_CONTROL = {chr(c) for c in range(0x20)} | {"\x7f"}


def odd_path(path: str) -> bool:
    """True when a decoded path holds a control character: no resource is named so."""
    return any(ch in _CONTROL for ch in path)


def query_errors(query_string: bytes) -> list[dict[str, str]]:
    """One error per query parameter whose name or value holds a NUL character."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, encoding="utf-8")
    return [
        _error(name or "query", "query", "null_character", "NUL characters are not allowed.")
        for name, value in pairs
        if "\x00" in name or "\x00" in value
    ]


def json_errors(document: Any) -> list[dict[str, str]]:
    """One error per place in a parsed JSON document that no column can hold."""
    errors: list[dict[str, str]] = []
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                errors.append(
                    _error(where, "body", "null_character", "NUL characters are not allowed.")
                )
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                errors.append(
                    _error(where, "body", "int_out_of_range", "Integers are limited to 64 bits.")
                )
        elif isinstance(value, float):
            if not math.isfinite(value):
                errors.append(
                    _error(where, "body", "number_out_of_range", "Numbers must be finite.")
                )
        elif isinstance(value, dict):
            for key, item in value.items():
                path = f"{where}.{key}" if where else str(key)
                if "\x00" in key:
                    errors.append(
                        _error(path, "body", "null_character", "NUL characters are not allowed.")
                    )
                stack.append((path, item))
        elif isinstance(value, list):
            stack.extend(
                (f"{where}.{i}" if where else str(i), item) for i, item in enumerate(value)
            )
    return sorted(errors, key=lambda e: e["field"])


def _error(field: str, where: str, code: str, message: str) -> dict[str, str]:
    return {"field": field or where, "in": where, "message": message, "code": code}


def _is_json(scope: Scope) -> bool:
    for key, value in scope.get("headers", ()):
        if key == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


class ScreenRequests:
    """ASGI middleware: odd paths are a 404, NULs and oversized numbers a 422 naming them.

    Bodies of paths in `screened_by_route` pass unread: their routes screen them item by
    item (bulk ingestion keeps a batch's good items when one holds a NUL, and reading a large
    batch twice would cost it a tenth of its rate)."""

    def __init__(self, app: ASGIApp, screened_by_route: tuple[str, ...] = ()):
        self.app = app
        self.screened_by_route = frozenset(screened_by_route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if odd_path(path):
            response = problem_response(
                404,
                "not-found",
                "Not found",
                "No resource has a control character in its address.",
            )
            await response(scope, receive, send)
            return
        errors = query_errors(scope.get("query_string", b""))
        if not errors and _is_json(scope) and path not in self.screened_by_route:
            body, receive = await _buffered(receive)
            errors = _body_errors(body)
        if errors:
            fields = ", ".join(sorted({e["field"] for e in errors}))
            response = problem_response(
                422,
                "validation-error",
                "The request is not valid",
                f"Check these fields: {fields}",
                path,
                errors=errors,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _body_errors(body: bytes) -> list[dict[str, str]]:
    if not body:
        return []
    try:
        # NaN, Infinity and 1e999 parse to floats that are not finite; the walk refuses them.
        document = json.loads(body)
    except RecursionError:
        return [_error("body", "body", "json_too_deep", "The JSON document nests too deeply.")]
    except ValueError:
        return []  # not JSON at all: the route's own validation says so, in its words
    return json_errors(document)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a `receive` that hands it on to the app as if unread."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
