"""Request ids and RED metrics labelled by route template, never by raw path."""

import re
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from services.common import observability as obs
from services.common.ids import new_id

REQUEST_ID_HEADER = "X-Request-Id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def install_request_middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def _observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else new_id("req")
        token = obs.request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            response.headers[REQUEST_ID_HEADER] = request_id
            return response
        finally:
            route = request.scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            obs.HTTP_REQUESTS.labels(template, request.method, str(status)).inc()
            obs.HTTP_DURATION.labels(template, request.method).observe(
                time.perf_counter() - started
            )
            obs.request_id_var.reset(token)
