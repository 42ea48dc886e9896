"""Keyset pages on the real database: every row once, in order, whatever the sort."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from deploy.local.postgres import database_url, ensure_databases
from services.common.db import make_engine
from services.common.http.pagination import PageParams, asc, desc, paginate
from services.common.http.problems import Problem

pytestmark = pytest.mark.integration

metadata = sa.MetaData()
entry = sa.Table(
    "entry",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
)
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def session(postgres_url_module):
    engine = make_engine(postgres_url_module, pool_size=1)
    metadata.create_all(engine)
    with engine.begin() as conn:
        # Many ties on score and on seen_at, so the id has to break them.
        conn.execute(
            entry.insert(),
            [
                {"id": f"e{n:03d}", "score": n % 4, "seen_at": START + timedelta(hours=n % 5)}
                for n in range(57)
            ],
        )
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture(scope="module")
def postgres_url_module(postgres_url):
    name = f"t_{uuid.uuid4().hex[:12]}"
    ensure_databases(postgres_url, [name])
    return database_url(postgres_url, name)


def _walk(session, order, limit):
    seen, cursor, pages = [], None, 0
    while True:
        rows, cursor = paginate(
            session, sa.select(entry), order, PageParams(limit=limit, cursor=cursor)
        )
        seen.extend(rows)
        pages += 1
        if cursor is None:
            return seen, pages


@pytest.mark.parametrize(
    ("order", "python_key", "reverse"),
    [
        (entry.c.id, lambda r: r.id, False),
        ((desc(entry.c.score), asc(entry.c.id)), lambda r: (-r.score, r.id), False),
        ((desc(entry.c.seen_at), desc(entry.c.id)), lambda r: (r.seen_at, r.id), True),
        (
            (asc(entry.c.score), desc(entry.c.seen_at), asc(entry.c.id)),
            lambda r: (r.score, -r.seen_at.timestamp(), r.id),
            False,
        ),
    ],
    ids=["id", "score-desc-id", "seen-desc-id-desc", "mixed-three"],
)
@pytest.mark.parametrize("limit", [1, 7, 56, 57, 200])
def test_pages_visit_every_row_once_in_order(session, order, python_key, reverse, limit):
    rows, pages = _walk(session, order, limit)
    assert len({r.id for r in rows}) == len(rows) == 57
    assert [r.id for r in rows] == [r.id for r in sorted(rows, key=python_key, reverse=reverse)]
    assert pages == max(1, -(-57 // limit))


def test_a_cursor_of_another_sort_is_refused(session):
    _, cursor = paginate(session, sa.select(entry), entry.c.id, PageParams(limit=5, cursor=None))
    assert cursor
    with pytest.raises(Problem) as refused:
        paginate(
            session,
            sa.select(entry),
            (desc(entry.c.score), asc(entry.c.id)),
            PageParams(limit=5, cursor=cursor),
        )
    assert refused.value.status == 400 and refused.value.slug == "invalid-cursor"


@pytest.mark.parametrize("garbage", ["%%%", "e30", "W10", "WyJ4IiwgWzFdXQ", "a" * 40])
def test_garbage_cursors_are_a_400(session, garbage):
    with pytest.raises(Problem) as refused:
        paginate(session, sa.select(entry), entry.c.id, PageParams(limit=5, cursor=garbage))
    assert refused.value.status == 400
