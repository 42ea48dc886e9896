"""Verdicts on API keys, remembered for a few seconds: the hot path asks no database.

A key verified before a database outage keeps working through it for a grace period: a
Postgres restart does not lock every client out. So a key revoked elsewhere (another replica,
the command line) stops working within `api_key_cache_seconds` (5 s) while the database is
up, and within `api_key_outage_grace_seconds` (5 min) if it is down when revoked. A key
revoked or rotated through this replica's API is forgotten here at once.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.access.callers import Caller
from gateway.access.service import key_hash
from services.common.outages import is_outage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Verdict:
    caller: Caller  # with its scopes: a cached verdict answers scope checks too
    checked_at: float


class KeyVerdicts:
    """Recently confirmed keys, by hash (never the key itself). Unknown and revoked keys are
    not remembered: each of those asks the database, as a revocation must win at once."""

    def __init__(self, *, fresh_seconds: float, grace_seconds: float, max_keys: int = 10_000):
        self._fresh, self._grace, self._max = fresh_seconds, grace_seconds, max_keys
        self._verdicts: dict[str, _Verdict] = {}
        self._lock = threading.Lock()
        self._last_warning = 0.0

    def remembered(self, key: str) -> Caller | None:
        """The caller behind `key` if its verdict is fresh, else None: no waiting, no database."""
        known = self._verdicts.get(key_hash(key))
        if known is not None and time.monotonic() - known.checked_at < self._fresh:
            return known.caller
        return None

    def caller(self, key: str, look_up: Callable[[str], Caller | None]) -> Caller | None:
        """The caller behind `key`: remembered if fresh, else looked up; during an outage of the
        database, remembered up to the grace period, else the outage error is raised."""
        digest = key_hash(key)
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

    def forget(self, digest: str) -> None:
        """Drop the verdict on the key with this hash (revoked here): its next call asks."""
        with self._lock:
            self._verdicts.pop(digest, None)
