"""The scopes a key or a console token can hold. `admin` implies every other one."""

from typing import Literal, get_args

Scope = Literal[
    "members:read",
    "members:write",
    "content:read",
    "content:write",
    "events:read",
    "events:write",
    "metrics:read",
    "webhooks:manage",
    "ingest:write",
    "admin",
]

ADMIN: Scope = "admin"
# Bulk ingestion authenticates by a key or a signature, so it checks this scope by hand.
INGEST_WRITE: Scope = "ingest:write"
SCOPES: tuple[Scope, ...] = get_args(Scope)


def grants(held: frozenset[str], needed: str) -> bool:
    """Whether holding `held` allows a call that needs `needed`."""
    return needed in held or ADMIN in held


def known(scopes: "list[str] | tuple[str, ...] | frozenset[str]") -> frozenset[str]:
    """The scopes among `scopes` this gateway knows; others (a newer console's) give nothing."""
    return frozenset(scopes) & frozenset(SCOPES)
