"""Who is calling: a workspace, what they may do there, and the credential that said so."""

from dataclasses import dataclass
from typing import Literal

from gateway.access.scopes import grants


@dataclass(frozen=True)
class Caller:
    # The API key's id, or the console user's subject (`sub`) for a console token. It names
    # the caller in audit trails and in per-caller rate limits.
    key_id: str
    workspace_id: str
    # Empty unless said: a caller built without scopes may do nothing that needs one.
    scopes: frozenset[str] = frozenset()
    via: Literal["api_key", "token"] = "api_key"

    def allows(self, scope: str) -> bool:
        return grants(self.scopes, scope)

    @property
    def actor(self) -> str:
        """For the services' audit trails: `api_key:key_…` or `user:<sub>`."""
        return f"api_key:{self.key_id}" if self.via == "api_key" else f"user:{self.key_id}"
