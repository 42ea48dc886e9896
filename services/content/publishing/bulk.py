"""Inserting thousands of rows in one pass, cheaply: the whole batch goes as one JSON
parameter that Postgres expands with `json_to_recordset`, one statement whatever the size.
A multi-row VALUES statement costs more to build and parse than to run, and even pipelined,
one prepared INSERT per row is a statement per row for the server (measured by
`bench/content_dispatch.py`)."""

from functools import cache
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql
from sqlmodel import Session


@cache
def _statement(table: Table, columns: tuple[str, ...]) -> sa.TextClause:
    types = {c.name: c.type.compile(dialect=postgresql.dialect()) for c in table.columns}
    names = ", ".join(f'"{c}"' for c in columns)
    record = ", ".join(f'"{c}" {types[c]}' for c in columns)
    return sa.text(
        f'INSERT INTO "{table.name}" ({names}) SELECT {names} '
        f"FROM json_to_recordset(CAST(:rows AS json)) AS r({record}) "
        "ON CONFLICT DO NOTHING RETURNING id"
    )


def insert_new(session: Session, table: Table, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the rows that do not collide with a unique key; returns the ids inserted."""
    if not rows:
        return set()
    statement = _statement(table, tuple(rows[0]))
    inserted = session.execute(statement, {"rows": orjson.dumps(rows).decode()})
    return {row_id for (row_id,) in inserted}


_MOVE_SCHEDULES = sa.text(
    "UPDATE schedule SET next_due_at = r.next_due_at, state = r.state "
    "FROM json_to_recordset(CAST(:rows AS json)) "
    "AS r(id text, next_due_at timestamptz, state text) "
    "WHERE schedule.id = r.id"
)


def update_schedules(session: Session, moves: list[dict[str, Any]]) -> None:
    """Set each schedule's next due instant and state (`id`, `next_due_at`, `state`)."""
    if moves:
        session.execute(_MOVE_SCHEDULES, {"rows": orjson.dumps(moves).decode()})
