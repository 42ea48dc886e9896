"""Bases and types for request bodies, so the server accepts exactly what its schema says.

    class CommunityCreate(RequestModel):
        name: str
        starts_at: Instant          # an RFC 3339 instant; "2026-01-01T09:00" is a 422
        capacity: Int32 | None = None

An unknown member is a 422 naming it (`extra_forbidden`), never silently dropped; a date-time
without an offset, or given as a number, is a 422 on any datetime field of a RequestModel.
"""

from datetime import datetime
from typing import Annotated, Any

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


class RequestModel(BaseModel):
    """Base of every request body: unknown members and naive date-times are refused."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _instants_are_strings(cls, value: Any, info: ValidationInfo) -> Any:
        annotation = cls.model_fields[info.field_name].annotation if info.field_name else None
        if annotation in (datetime, datetime | None):
            return _not_a_number(value)
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _instants_have_offsets(cls, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("a date-time needs an offset, e.g. 2026-01-01T09:00:00+08:00")
        return value
