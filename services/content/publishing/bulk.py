"""Inserting thousands of rows in one pass, cheaply: psycopg's pipelined `executemany` sends
one prepared statement per row in a single round trip, where a multi-row VALUES statement
costs more to build and parse than to run (measured by `bench/content_dispatch.py`)."""

from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Table
from sqlmodel import Session


def _adapted(value: Any) -> Any:
    return Jsonb(value) if isinstance(value, dict | list) else value


def insert_new(session: Session, table: Table, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the rows that do not collide with a unique key; returns the ids inserted."""
    if not rows:
        return set()
    columns = list(rows[0])
    statement = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) ON CONFLICT DO NOTHING RETURNING id"
    )
    connection = session.connection().connection.driver_connection
    inserted: set[str] = set()
    with connection.cursor() as cursor:  # type: ignore[union-attr]
        cursor.executemany(
            statement, [tuple(_adapted(r[c]) for c in columns) for r in rows], returning=True
        )
        while True:
            for (row_id,) in cursor.fetchall():
                inserted.add(row_id)
            if not cursor.nextset():
                break
    return inserted
