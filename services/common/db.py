"""One engine per service, sessions for requests, and alembic migrations applied at start."""

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import orjson
from alembic import command
from alembic.config import Config
from fastapi import Depends, Request
from psycopg.types.json import set_json_loads
from sqlalchemy import Engine, create_engine, event, text
from sqlmodel import Session

# Any fixed number works; it only has to be the same for every replica of one service.
_MIGRATION_LOCK_KEY = 0x5179756E


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for a service's own database; psycopg 3 is the driver.

    `hide_parameters`: a failed statement's error names no values, so a logged traceback
    carries no member's data or integration secret.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # Bounded waits: with the database away, a request answers 503 in seconds instead of
    # hanging on a connect (psycopg waits forever by default) or on an exhausted pool (30 s).
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        hide_parameters=True,
        pool_timeout=5,
        connect_args={"connect_timeout": 3},
    )
    event.listen(engine, "connect", _read_json_with_orjson)
    return engine


def _read_json_with_orjson(dbapi_connection: object, _record: object) -> None:
    """json and jsonb columns parsed by orjson, not the standard library: the outbox relay
    parses every row's headers, and stdlib `json` was a seventh of its time."""
    set_json_loads(orjson.loads, dbapi_connection)  # type: ignore[arg-type]


def migrate(engine: Engine, migrations_dir: Path) -> None:
    """Bring the database to the newest revision; replicas starting together take turns."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    with engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK_KEY})


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
