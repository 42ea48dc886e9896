"""Bases and types for request bodies, so the server accepts exactly what its schema says.

    class CommunityCreate(RequestModel):
        name: str
        starts_at: Instant          # an RFC 3339 instant; "2026-01-01T09:00" is a 422
        capacity: Int32 | None = None

An unknown member is a 422 naming it (`extra_forbidden`), never silently dropped; a date-time
without an offset, or given as a number, is a 422 on any datetime field of a RequestModel.
"""

from datetime import datetime
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from services.common.http.screening import INT64_MAX, INT64_MIN


def _not_a_number(value: Any) -> Any:
    # pydantic reads numbers as Unix timestamps; the schema says an RFC 3339 string.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("a date-time is an RFC 3339 string, e.g. 2026-01-01T09:00:00+08:00")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]
"""A point in time as an RFC 3339 string with its offset (`Z`, `+08:00`): not a naive
date-time, and not a number of seconds, which pydantic would otherwise take."""

Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
"""An integer a BIGINT column holds."""

Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
"""An integer an INTEGER column holds."""


def _plain_types(annotation: Any) -> set[Any]:
    """`int | None` → {int, NoneType}; `Annotated[int, ...]` → {int}."""
    if get_origin(annotation) is Annotated:
        return _plain_types(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return set().union(*(_plain_types(arg) for arg in get_args(annotation)))
    return {annotation}


class RequestModel(BaseModel):
    """Base of every request body: unknown members and naive date-times are refused."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _json_types_as_the_schema_says(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic's lax mode reads `true` as 1 and 1700000000 as a date-time; the document
        # promises a number and an RFC 3339 string.
        kinds = _plain_types(
            cls.model_fields[info.field_name].annotation if info.field_name else None
        )
        if datetime in kinds:
            return _not_a_number(value)
        if isinstance(value, bool) and kinds & {int, float} and bool not in kinds:
            raise ValueError("a number is expected, not true or false")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _instants_have_offsets(cls, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("a date-time needs an offset, e.g. 2026-01-01T09:00:00+08:00")
        return value
