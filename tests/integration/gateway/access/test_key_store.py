"""The key store on Postgres: a use is noted at most once a minute, and keys made before
scopes existed keep every right they had."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlmodel import Session, select

from gateway.access import service
from gateway.access.models import ApiKey
from gateway.access.scopes import ADMIN
from services.common.db import make_engine

pytestmark = pytest.mark.integration

MIGRATIONS = Path(service.__file__).resolve().parents[1] / "migrations"


def _last_used(engine: Engine, key: str) -> datetime | None:
    with Session(engine) as session:
        row = session.exec(select(ApiKey).where(ApiKey.key_hash == service.key_hash(key))).one()
        return row.last_used_at


def test_a_use_is_noted_at_most_once_a_minute(engine: Engine, make_key: Callable[..., str]) -> None:
    key = make_key(["members:read"])
    start = datetime.now(UTC)

    def use(at: datetime) -> None:
        with Session(engine) as session:
            caller = service.authenticate(session=session, key=key, now=at)
            session.commit()
        assert caller is not None and caller.scopes == {"members:read"}

    use(start)
    assert _last_used(engine, key) == start
    use(start + timedelta(seconds=59))  # within the minute: no write
    assert _last_used(engine, key) == start
    use(start + timedelta(seconds=61))
    assert _last_used(engine, key) == start + timedelta(seconds=61)


def test_a_revoked_key_authenticates_no_one(engine: Engine, make_key: Callable[..., str]) -> None:
    key = make_key(["members:read"])
    with Session(engine) as session:
        row = session.exec(select(ApiKey).where(ApiKey.key_hash == service.key_hash(key))).one()
        service.revoke_api_key(session, key=row, now=datetime.now(UTC))
        session.commit()
        assert service.authenticate(session=session, key=key, now=datetime.now(UTC)) is None


def test_keys_made_before_scopes_get_admin(fresh_database_url: str) -> None:
    engine = make_engine(fresh_database_url, pool_size=1)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0003")
            connection.execute(
                sa.text(
                    "INSERT INTO api_key (id, workspace_id, name, key_hash, prefix, created_at)"
                    " VALUES ('key_old', 'ws_old', 'old', 'h', 'qy_old', now())"
                )
            )
            command.upgrade(config, "head")
            scopes = connection.execute(
                sa.text("SELECT scopes FROM api_key WHERE id = 'key_old'")
            ).scalar_one()
        assert scopes == [ADMIN]
    finally:
        engine.dispose()
