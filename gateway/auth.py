"""Who is calling: an API key scopes its holder to one workspace, within a rate limit.

Verdicts on keys are remembered for a few seconds, and a key verified before a database
outage keeps working through it for a grace period: a Postgres restart does not lock every
client out. So a revoked key stops working within `api_key_cache_seconds` (5 s) while the
database is up, and within `api_key_outage_grace_seconds` (5 min) if it is down when revoked.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from gateway import keys
from gateway.settings import GatewaySettings
from services.common.http.problems import Problem
from services.common.outages import is_outage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Verdict:
    caller: keys.Caller
    checked_at: float


class KeyVerdicts:
    """Recently confirmed keys, by hash (never the key itself). Unknown and revoked keys are
    not remembered: each of those asks the database, as a revocation must win at once."""

    def __init__(self, *, fresh_seconds: float, grace_seconds: float, max_keys: int = 10_000):
        self._fresh, self._grace, self._max = fresh_seconds, grace_seconds, max_keys
        self._verdicts: dict[str, _Verdict] = {}
        self._lock = threading.Lock()
        self._last_warning = 0.0

    def caller(self, key: str, look_up: Callable[[str], keys.Caller | None]) -> keys.Caller | None:
        """The caller behind `key`: remembered if fresh, else looked up; during an outage of the
        database, remembered up to the grace period, else the outage error is raised."""
        digest = keys.key_hash(key)
        now = time.monotonic()
        known = self._verdicts.get(digest)
        if known is not None and now - known.checked_at < self._fresh:
            return known.caller
        try:
            caller = look_up(key)
        except Exception as exc:
            if known is not None and now - known.checked_at < self._grace and is_outage(exc):
                if now - self._last_warning > 60:  # once a minute, not once a request
                    self._last_warning = now
                    log.warning("database unreachable; keys accepted from the verdict cache")
                return known.caller
            raise
        with self._lock:
            if caller is None:
                self._verdicts.pop(digest, None)
            else:
                if len(self._verdicts) >= self._max and digest not in self._verdicts:
                    self._verdicts.pop(next(iter(self._verdicts)))  # the oldest entry
                self._verdicts[digest] = _Verdict(caller, now)
        return caller


def _look_up(request: Request) -> Callable[[str], keys.Caller | None]:
    def look_up(key: str) -> keys.Caller | None:
        with Session(request.app.state.engine) as session:
            return keys.authenticate(session=session, key=key)

    return look_up


def authenticated(request: Request) -> keys.Caller:
    """The caller behind the bearer key, or a 401; a 429 past the key's rate limit."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(
            401,
            "unauthorized",
            "Authentication required",
            "Send `Authorization: Bearer <api key>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    caller = request.app.state.key_verdicts.caller(token.strip(), _look_up(request))
    if caller is None:
        raise Problem(
            401, "invalid-api-key", "Invalid API key", "The API key is unknown or revoked."
        )
    settings: GatewaySettings = request.app.state.settings
    wait = request.app.state.limiter.take(caller.key_id)
    if wait:
        raise Problem(
            429,
            "rate-limited",
            "Too many requests",
            f"This API key is limited to {settings.rate_limit_per_second:g} requests a second.",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    return caller


CallerDep = Annotated[keys.Caller, Depends(authenticated)]


async def read_body(request: Request) -> bytes:
    """The raw body, refused before reading when it declares more than the limit."""
    limit = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    # The declared length refuses big bodies before reading them; the read length catches liars.
    if (declared.isdigit() and int(declared) > limit) or len(body := await request.body()) > limit:
        raise Problem(
            413, "payload-too-large", "Payload too large", f"Bodies are limited to {limit} bytes."
        )
    return body
