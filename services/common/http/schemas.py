"""Bases and types for request bodies, so the server accepts exactly what its schema says.

    class CommunityCreate(RequestModel):
        name: str
        starts_at: Instant          # an RFC 3339 instant; "2026-01-01T09:00" is a 422
        capacity: Int32 | None = None

An unknown member is a 422 naming it (`extra_forbidden`), never silently dropped; a date-time
without an offset is a 422 on any field of a RequestModel, typed `Instant` or not.
"""

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from services.common.http.screening import INT64_MAX, INT64_MIN

Instant = AwareDatetime
"""A point in time: the offset is required (`Z` or `+08:00`), as RFC 3339 says."""

Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
"""An integer a BIGINT column holds."""

Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
"""An integer an INTEGER column holds."""


class RequestModel(BaseModel):
    """Base of every request body: unknown members and naive date-times are refused."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _instants_have_offsets(cls, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("a date-time needs an offset, e.g. 2026-01-01T09:00:00+08:00")
        return value
