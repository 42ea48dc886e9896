"""`/healthz` (the process is alive), `/readyz` (what it needs to serve answers), `/metrics`.

`/readyz` never waits on a dependency: a background prober runs each check on its own thread
every second and `/readyz` reads the latest results, so it answers at once even while a
database or broker hangs. A check that has not come back within its timeout counts as failed.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

# None when fine, else a short reason that `/readyz` shows.
Check = Callable[[], str | None]


@dataclass
class _Result:
    trouble: str | None = "not checked yet"
    running_since: float | None = None


class Readiness:
    """Named checks, each probed on its own daemon thread until `stop` is set."""

    def __init__(
        self, checks: dict[str, Check], *, every_seconds: float = 1.0, timeout_seconds: float = 3
    ):
        self._checks = checks
        self._every = every_seconds
        self._timeout = timeout_seconds
        self._results = {name: _Result() for name in checks}

    def start(self, stop: threading.Event) -> None:
        for name in self._checks:
            threading.Thread(
                target=self._probe, args=(name, stop), name=f"readyz-{name}", daemon=True
            ).start()

    def _probe(self, name: str, stop: threading.Event) -> None:
        result = self._results[name]
        while not stop.is_set():
            result.running_since = time.monotonic()
            try:
                trouble = self._checks[name]()
            except Exception as exc:
                trouble = f"{type(exc).__name__}: {exc}"[:300]
            result.trouble, result.running_since = trouble, None
            stop.wait(self._every)

    def report(self) -> dict[str, str]:
        """Each check's latest verdict: "ok" or the reason it is not."""
        now = time.monotonic()
        verdicts = {}
        for name, result in self._results.items():
            hung = result.running_since is not None and now - result.running_since > self._timeout
            if hung:
                verdicts[name] = f"no answer within {self._timeout:g} s"
            else:
                verdicts[name] = result.trouble or "ok"
        return verdicts


def health_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        readiness: Readiness | None = getattr(request.app.state, "readiness", None)
        results = readiness.report() if readiness else {"process": "starting"}
        ready = all(v == "ok" for v in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not-ready", "checks": results},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
