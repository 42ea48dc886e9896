"""Integrations' signing secrets, remembered for a few seconds: a bot's push asks the database
only to write, not to learn who is pushing.

An integration disabled through this replica's API is forgotten here at once; one disabled
through another replica (or straight in the database) stops being accepted here within
`FRESH_SECONDS` (5 s), as API keys do. Unknown and disabled integrations are not remembered:
each of their pushes asks, so enabling is never late and a guessed address costs a lookup.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

FRESH_SECONDS = 5.0


@dataclass(frozen=True)
class ActiveIntegration:
    id: str
    workspace_id: str
    secret: str


@dataclass(frozen=True)
class _Verdict:
    integration: ActiveIntegration
    checked_at: float


class IntegrationVerdicts:
    def __init__(self, *, fresh_seconds: float = FRESH_SECONDS, max_integrations: int = 10_000):
        self._fresh, self._max = fresh_seconds, max_integrations
        self._verdicts: dict[str, _Verdict] = {}
        self._lock = threading.Lock()

    def active(
        self, integration_id: str, look_up: Callable[[str], ActiveIntegration | None]
    ) -> ActiveIntegration | None:
        """The active integration at this id: remembered if fresh, else looked up."""
        now = time.monotonic()
        known = self._verdicts.get(integration_id)
        if known is not None and now - known.checked_at < self._fresh:
            return known.integration
        found = look_up(integration_id)
        with self._lock:
            if found is None:
                self._verdicts.pop(integration_id, None)
            else:
                if len(self._verdicts) >= self._max and integration_id not in self._verdicts:
                    self._verdicts.pop(next(iter(self._verdicts)))  # the oldest entry
                self._verdicts[integration_id] = _Verdict(found, now)
        return found

    def forget(self, integration_id: str) -> None:
        """Drop what is remembered of this integration (disabled here): its next push asks."""
        with self._lock:
            self._verdicts.pop(integration_id, None)
