"""Request ids, RED metrics labelled by route template (never by raw path), and the last word
on any error: whatever escapes a route becomes a logged 500 problem carrying the request id."""

import logging
import re
import time
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common import observability as obs
from services.common.http.problems import problem_response
from services.common.http.screening import ScreenRequests
from services.common.ids import new_id

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContext:
    """Outermost middleware: names the request, measures it, and answers for what escapes."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else new_id("req")
        token = obs.request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Logged here, where the request id is still known; uvicorn never sees it.
            log.exception("unhandled error", extra={"path_template": _template(scope)})
            if response_started:
                raise
            response = problem_response(
                500,
                "internal-error",
                "Internal error",
                "Something went wrong on our side; the request id identifies it.",
                scope.get("path"),
                headers={REQUEST_ID_HEADER: request_id},
            )
            status = 500
            await response(scope, receive, send)
        finally:
            template = _template(scope)
            method = scope.get("method", "")
            obs.HTTP_REQUESTS.labels(template, method, str(status)).inc()
            obs.HTTP_DURATION.labels(template, method).observe(time.perf_counter() - started)
            obs.request_id_var.reset(token)


def _template(scope: Scope) -> str:
    route: Any = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def install_request_middleware(app: FastAPI, *, screened_by_route: tuple[str, ...] = ()) -> None:
    """Screening inside, request context outside it, so refusals carry a request id too."""
    app.add_middleware(ScreenRequests, screened_by_route=screened_by_route)
    app.add_middleware(RequestContext)
