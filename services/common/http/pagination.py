"""Cursor pagination over time-ordered ids: `limit` and `cursor` in, `next_cursor` out."""

import base64
import binascii
import re
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select
from sqlalchemy.orm import Mapped
from sqlmodel import Session

from services.common.http.problems import Problem

T = TypeVar("T")

MAX_LIMIT = 200
_ID = re.compile(r"[A-Za-z0-9_]{1,64}")


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None


class PageParams(BaseModel):
    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        last_id = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        last_id = ""
    if not _ID.fullmatch(last_id):
        raise Problem(
            400,
            "invalid-cursor",
            "Invalid cursor",
            "Pass back the `next_cursor` of a previous page unchanged.",
        )
    return last_id


def paginate(
    session: Session,
    statement: Select[Any],
    id_column: ColumnElement[str] | Mapped[str],
    params: PageParams,
) -> tuple[list[Any], str | None]:
    """Rows after the cursor in id order, and the cursor of the next page if there is one."""
    if params.cursor:
        statement = statement.where(id_column > decode_cursor(params.cursor))
    rows = list(session.exec(statement.order_by(id_column).limit(params.limit + 1)))  # type: ignore[call-overload]
    if len(rows) <= params.limit:
        return rows, None
    rows = rows[: params.limit]
    return rows, encode_cursor(rows[-1].id)
