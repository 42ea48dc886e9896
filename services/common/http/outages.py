"""A dependency outage answers `503 unavailable` with `Retry-After`, never `500`.

The client did nothing wrong and the request may well succeed in a few seconds: telling it so
(and when) lets it retry with the same Idempotency-Key instead of giving up or reporting a bug.
"""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.common.http.problems import problem_response
from services.common.outages import OUTAGE_ERRORS, RETRY_AFTER_SECONDS

log = logging.getLogger(__name__)


def unavailable(
    request: Request, detail: str = "A service this request needs is unreachable."
) -> JSONResponse:
    return problem_response(
        503,
        "unavailable",
        "Service unavailable",
        f"{detail} Try again in a few seconds.",
        request.url.path,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def install_outage_handlers(app: FastAPI) -> None:
    async def _outage(request: Request, exc: Exception) -> JSONResponse:
        log.warning(
            "dependency unreachable; answered 503",
            extra={"error": f"{type(exc).__name__}: {str(exc)[:300]}"},
        )
        return unavailable(request)

    for error in OUTAGE_ERRORS:
        app.add_exception_handler(error, _outage)
