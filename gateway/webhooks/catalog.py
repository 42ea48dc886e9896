"""The event types one can subscribe to, read from the contracts so the list cannot drift, and
the matching of a type against an endpoint's filters."""

import functools
import importlib
import pkgutil

from services.common import contracts
from services.common.contracts.base import CONTRACTS

# Sent by `POST /v1/webhooks/endpoints/{id}/test`; never on Kafka.
PING_TYPE = "io.qunyun.webhook.ping.v1"


@functools.cache
def event_types() -> dict[str, tuple[str, str]]:
    """Every published type: its topic and the first line of its contract's docstring."""
    for info in pkgutil.iter_modules(contracts.__path__):
        importlib.import_module(f"{contracts.__name__}.{info.name}")
    found = {
        name: (model.topic, (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " "))
        for name, model in CONTRACTS.items()
    }
    found[PING_TYPE] = ("", "A test delivery asked for by `POST .../test`.")
    return dict(sorted(found.items()))


def matches(patterns: list[str], event_type: str) -> bool:
    """Whether a type passes an endpoint's filters: exact types or prefixes ending in `*`."""
    return any(
        event_type.startswith(p[:-1]) if p.endswith("*") else event_type == p for p in patterns
    )


def unknown_patterns(patterns: list[str]) -> list[str]:
    """Filters that can never match a published type (a typo), to be refused."""
    known = event_types()
    return [p for p in patterns if not any(matches([p], t) for t in known)]
