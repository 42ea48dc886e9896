"""Keyset pagination: `limit` and `cursor` in, `next_cursor` out, over any sort.

A list is ordered by one or more keys, the last of which must be unique (the id), e.g.
`paginate(session, query, (desc(Member.last_active_at), Member.id), paging)`. The cursor
carries the last row's key values and a fingerprint of the sort, so a page never skips or
repeats a row when rows are added between calls, and a cursor from another list or another
sort is refused instead of silently misread. Each page costs one indexed range scan, however
deep the client has paged: no OFFSET.
"""

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, and_, or_, tuple_
from sqlalchemy.orm import Mapped
from sqlmodel import Session

from services.common.http.problems import Problem
from services.common.http.schemas import DIGITS

T = TypeVar("T")

MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None


class PageParams(BaseModel):
    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page."), DIGITS] = 50,
    cursor: Annotated[
        str | None,
        Query(max_length=512, description="`next_cursor` of the previous page, unchanged."),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


Paging = Annotated[PageParams, Depends(page_params)]
"""The paging of a list route: `def list_x(paging: Paging)`."""

Column = ColumnElement[Any] | Mapped[Any]


@dataclass(frozen=True, slots=True)
class Key:
    """One sort key of a list. `attribute` names where a result row holds its value, when
    that is not the column's own name (a labelled expression, a joined entity)."""

    column: Column
    descending: bool = False
    attribute: str | None = None

    @property
    def name(self) -> str:
        return self.attribute or _column_name(self.column)


def asc(column: Column, attribute: str | None = None) -> Key:
    return Key(column, False, attribute)


def desc(column: Column, attribute: str | None = None) -> Key:
    return Key(column, True, attribute)


def invalid_cursor() -> Problem:
    return Problem(
        400,
        "invalid-cursor",
        "Invalid cursor",
        "Pass back the `next_cursor` of a previous page of the same list, unchanged.",
    )


def paginate(
    session: Session,
    statement: Select[Any],
    order: Column | Key | Sequence[Column | Key],
    paging: PageParams,
) -> tuple[list[Any], str | None]:
    """The page of rows after the cursor in `order`, and the cursor of the next page if
    there is one. The last key must be unique, so that the order is total."""
    keys = _keys(order)
    fingerprint = _fingerprint(keys)
    if paging.cursor:
        statement = statement.where(_after(keys, _decode(paging.cursor, fingerprint, len(keys))))
    ordering = [k.column.desc() if k.descending else k.column.asc() for k in keys]
    rows = list(session.exec(statement.order_by(*ordering).limit(paging.limit + 1)))  # type: ignore[call-overload]
    if len(rows) <= paging.limit:
        return rows, None
    rows = rows[: paging.limit]
    return rows, _encode(fingerprint, [_value_of(rows[-1], k) for k in keys])


def _keys(order: Column | Key | Sequence[Column | Key]) -> list[Key]:
    items: list[Any] = list(order) if isinstance(order, list | tuple) else [order]
    if not items:
        raise ValueError("a list needs at least one sort key")
    return [item if isinstance(item, Key) else Key(item) for item in items]


def _column_name(column: Column) -> str:
    name = getattr(column, "key", None) or getattr(column, "name", None)
    if not name:
        raise ValueError(f"name the attribute that holds {column!r} in a row")
    return str(name)


def _fingerprint(keys: Sequence[Key]) -> str:
    shape = ",".join(f"{k.name}{'-' if k.descending else '+'}" for k in keys)
    return hashlib.blake2s(shape.encode(), digest_size=4).hexdigest()


def _after(keys: Sequence[Key], values: Sequence[Any]) -> ColumnElement[bool]:
    columns = [k.column for k in keys]
    if all(k.descending == keys[0].descending for k in keys):
        # One row-value comparison, which Postgres serves from a composite index.
        row, last = tuple_(*columns), tuple_(*values)
        return row < last if keys[0].descending else row > last
    # Mixed directions: (a ≷ x) OR (a = x AND b ≷ y) OR ...
    clauses = []
    for i, key in enumerate(keys):
        beyond = key.column < values[i] if key.descending else key.column > values[i]
        clauses.append(
            and_(*(c == v for c, v in zip(columns[:i], values[:i], strict=True)), beyond)
        )
    return or_(*clauses)


def _value_of(row: Any, key: Key) -> Any:
    mapping = getattr(row, "_mapping", None)
    value = (
        mapping[key.name] if mapping is not None and key.name in mapping else getattr(row, key.name)
    )
    if value is None:
        raise ValueError(f"sort key {key.name} is NULL; keyset pages need non-null keys")
    return value


def _encode(fingerprint: str, values: Sequence[Any]) -> str:
    raw = orjson.dumps([fingerprint, [_tagged(v) for v in values]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _tagged(value: Any) -> Any:
    # JSON has no dates or decimals; tag them so a value comes back as the type it left as.
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)  # enums and other str-likes


def _untagged(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((tag, text),) = value.items()
        if isinstance(text, str):
            if tag == "t":
                return datetime.fromisoformat(text)
            if tag == "d":
                return date.fromisoformat(text)
            if tag == "n":
                return Decimal(text)
    if isinstance(value, str | int | float | bool):
        return value
    raise ValueError("not a key value")


def _decode(cursor: str, fingerprint: str, arity: int) -> list[Any]:
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        made_for, values = orjson.loads(raw)
        if made_for != fingerprint or not isinstance(values, list) or len(values) != arity:
            raise ValueError("a cursor of another list")
        return [_untagged(v) for v in values]
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError) as exc:
        raise invalid_cursor() from exc


# ---- the id-only cursors some lists still make by hand; to go once they use `paginate` ----


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        last_id = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        last_id = ""
    if not last_id or not all(ch.isalnum() or ch == "_" for ch in last_id) or len(last_id) > 64:
        raise invalid_cursor()
    return last_id
