"""Telling a dependency outage from a fault of our own or of the input.

An unreachable database or broker is nobody's bug: a request meeting one
answers 503 with `Retry-After` (the client retries, with its Idempotency-Key), and a consumer
meeting one pauses instead of dead-lettering a healthy event.
"""

import psycopg
import sqlalchemy as sa
from sqlalchemy import Engine

from services.common.kafka import BROKER_ERRORS

# Seconds a client is asked to wait before retrying. A Postgres restart or a pod moving takes
# a few seconds; a retry every few seconds finds it back soon without hammering it.
RETRY_AFTER_SECONDS = 3

# Connection refused or dropped, the server shutting down, a pool that hands out no
# connection in time: SQLAlchemy wraps psycopg's OperationalError (and its interface errors)
# and raises its own TimeoutError for the pool. Deadlocks and serialization failures are
# OperationalErrors too; a retry is the right answer to them as well.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
# Calls to other services are not classified here: the gateway's proxy (aiohttp) answers its
# own connection errors (`gateway.traffic.forwarding`), and content's call to members
# (httpx) turns them into a failed occurrence (`AudienceUnavailable`); neither reaches this.
OUTAGE_ERRORS = DATABASE_ERRORS + BROKER_ERRORS


def is_outage(exc: BaseException) -> bool:
    """Whether `exc`, or what caused it, says a dependency is unreachable."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OUTAGE_ERRORS):
            return True
        if isinstance(current, sa.exc.DBAPIError) and current.connection_invalidated:
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def database_down(engine: Engine) -> str | None:
    """None when the database answers `SELECT 1`, else why not. Cheap: one pooled connection."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        first_line = (str(exc).splitlines() or [""])[0][:200]
        return f"database unreachable: {type(exc).__name__}: {first_line}"
    return None
