"""The replica's upsert on the real database: the newer state wins whatever order states
arrive in, a replay changes nothing, and columns an update does not overwrite keep what the
first insert wrote."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from deploy.local.postgres import database_url, ensure_databases
from services.common.db import make_engine
from services.common.replica import link_identities, relink_identities, upsert_newer

pytestmark = pytest.mark.integration

metadata = sa.MetaData()
copy = sa.Table(
    "copy",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
identity = sa.Table(
    "identity",
    metadata,
    sa.Column("community_id", sa.String, primary_key=True),
    sa.Column("speaker", sa.String, primary_key=True),
    sa.Column("member_id", sa.String, nullable=False),
)
AT = datetime(2026, 3, 1, 9, tzinfo=UTC)


@pytest.fixture
def session(postgres_url: str) -> Iterator[Session]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    ensure_databases(postgres_url, [name])
    engine = make_engine(database_url(postgres_url, name), pool_size=1)
    metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def _write(session: Session, name: str, at: datetime, overwrite: list[str] | None = None) -> bool:
    values = {"id": "c1", "name": name, "total": 0, "updated_at": at}
    return upsert_newer(session, copy, values, key=["id"], stamp="updated_at", overwrite=overwrite)


def _row(session: Session) -> tuple[str, int, datetime]:
    name, total, updated_at = session.execute(
        sa.select(copy.c.name, copy.c.total, copy.c.updated_at)
    ).one()
    return name, total, updated_at


def test_the_newer_state_wins_in_either_order(session: Session) -> None:
    assert _write(session, "first", AT)
    assert _write(session, "second", AT + timedelta(hours=1))
    assert not _write(session, "late", AT)
    assert _row(session) == ("second", 0, AT + timedelta(hours=1))


def test_a_replay_of_the_same_state_writes_it_again_unchanged(session: Session) -> None:
    assert _write(session, "first", AT)
    assert _write(session, "first", AT)
    assert _row(session) == ("first", 0, AT)


def test_columns_not_overwritten_keep_the_first_insert(session: Session) -> None:
    assert _write(session, "first", AT)
    session.execute(copy.update().values(total=7))
    assert _write(session, "renamed", AT + timedelta(1), overwrite=["name", "updated_at"])
    assert _row(session) == ("renamed", 7, AT + timedelta(1))


def test_the_latest_link_of_an_identity_wins(session: Session) -> None:
    key = ["community_id", "speaker"]
    rows = [{"community_id": "c1", "speaker": s, "member_id": "m1"} for s in ("a", "b")]
    link_identities(session, identity, rows, key=key)
    link_identities(session, identity, [rows[0] | {"member_id": "m2"}], key=key)
    linked = session.execute(
        sa.select(identity.c.speaker, identity.c.member_id).order_by(identity.c.speaker)
    ).all()
    assert [tuple(r) for r in linked] == [("a", "m2"), ("b", "m1")]


def test_a_merged_members_identities_move_to_the_survivor(session: Session) -> None:
    key = ["community_id", "speaker"]
    rows = [
        {"community_id": "c1", "speaker": s, "member_id": m}
        for s, m in (("a", "m1"), ("b", "m2"), ("c", "m3"))
    ]
    link_identities(session, identity, rows, key=key)
    relink_identities(session, identity, merged_id="m2", survivor_id="m1")
    linked = session.execute(
        sa.select(identity.c.speaker, identity.c.member_id).order_by(identity.c.speaker)
    ).all()
    assert [tuple(r) for r in linked] == [("a", "m1"), ("b", "m1"), ("c", "m3")]
