"""Integrations' signing secrets, remembered for a few seconds: a bot's push asks the database
only to write, not to learn who is pushing.

An integration disabled through this replica's API is forgotten here at once; one disabled
through another replica (or straight in the database) stops being accepted here within
`FRESH_SECONDS` (5 s), as API keys do. Unknown and disabled integrations are not remembered:
each of their pushes asks, so enabling is never late and a guessed address costs a lookup.
"""

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.signatures import signing_key

FRESH_SECONDS = 5.0


@dataclass(frozen=True)
class ActiveIntegration:
    id: str
    workspace_id: str
    secret: str

    @functools.cached_property
    def key(self) -> bytes:
        """The secret's HMAC key, decoded from its `whsec_` form once while remembered, not
        once a push."""
        return signing_key(self.secret)


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
        known = self.fresh(integration_id)
        if known is not None:
            return known
        found = look_up(integration_id)
        self.remember(integration_id, found)
        return found

    def fresh(self, integration_id: str) -> ActiveIntegration | None:
        """The integration remembered at this id while fresh; None when it must be looked up
        (and then `remember`ed): the push path looks it up on the event loop, not through a
        callable run in a thread."""
        known = self._verdicts.get(integration_id)
        if known is not None and time.monotonic() - known.checked_at < self._fresh:
            return known.integration
        return None

    def remember(self, integration_id: str, found: ActiveIntegration | None) -> None:
        """What a look-up found: remembered if active, forgotten if not."""
        now = time.monotonic()
        with self._lock:
            if found is None:
                self._verdicts.pop(integration_id, None)
            else:
                if len(self._verdicts) >= self._max and integration_id not in self._verdicts:
                    self._verdicts.pop(next(iter(self._verdicts)))  # the oldest entry
                self._verdicts[integration_id] = _Verdict(found, now)

    def forget(self, integration_id: str) -> None:
        """Drop what is remembered of this integration (disabled here): its next push asks."""
        with self._lock:
            self._verdicts.pop(integration_id, None)
