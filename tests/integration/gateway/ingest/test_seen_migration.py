"""Keying `ingest_seen` by a hash of each identity forgets nothing: an item accepted before
the upgrade is still a duplicate after it, in its own workspace only, for the rest of its days,
and what the prune would have forgotten it still forgets."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlmodel import Session

import gateway
from gateway.ingest import service
from gateway.ingest.fingerprints import identity, seen_key
from services.common.db import make_engine

pytestmark = pytest.mark.integration

MIGRATIONS = Path(gateway.__file__).resolve().parent / "migrations"


def test_rows_seen_before_the_rekeying_are_still_duplicates(fresh_database_url: str) -> None:
    engine = make_engine(fresh_database_url, pool_size=1)
    now = datetime.now(UTC)
    old = [
        # workspace, platform, kind, external id, seen
        ("ws_a", "wechat", "message", "m1", now - timedelta(days=6)),
        ("ws_a", "wechat", "message", "消息 2", now - timedelta(hours=1)),
        ("ws_a", "wechat", "group_member_joined", '["g1","wx_1","2026-11-30T12:00:00+00:00"]', now),
        ("ws_a", "wechat", "message", "gone", now - service.REMEMBERED_FOR - timedelta(hours=1)),
    ]
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0006")
            connection.execute(
                sa.text(
                    "INSERT INTO ingest_seen (workspace_id, platform, kind, external_id, seen_at)"
                    " VALUES (:ws, :platform, :kind, :external_id, :seen_at)"
                ),
                [
                    {"ws": w, "platform": p, "kind": k, "external_id": e, "seen_at": s}
                    for w, p, k, e, s in old
                ],
            )
            command.upgrade(config, "head")

        with Session(engine) as session:
            kept = {
                (r.key.bytes, r.workspace_id, r.seen_at)
                for r in session.execute(
                    sa.text("SELECT key, workspace_id, seen_at FROM ingest_seen")
                )
            }
            assert kept == {(seen_key(identity(w, p, k, e)), w, s) for w, p, k, e, s in old}

            keys = [seen_key(identity(w, p, k, e)) for w, p, k, e, _ in old[:3]]
            elsewhere = seen_key(identity("ws_b", "wechat", "message", "m1"))
            fresh = seen_key(identity("ws_a", "wechat", "message", uuid.uuid4().hex))
            new = service.claim(
                session, workspace_id="ws_a", keys=[*keys, elsewhere, fresh], now=now
            )
            # Another workspace's same message id is its own; the item past the retention is
            # what the prune forgets first.
            assert new == {elsewhere, fresh}
            assert service.prune_seen(session, now) == 1
            session.commit()
    finally:
        engine.dispose()
