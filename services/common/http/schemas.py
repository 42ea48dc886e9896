"""Bases and types for request bodies, so the server accepts exactly what its schema says.

    class CommunityCreate(RequestModel):
        name: str
        starts_at: Instant          # an RFC 3339 instant; "2026-01-01T09:00" is a 422
        capacity: Int32 | None = None  # a number: "2" is a 422

An unknown member is a 422 naming it (`extra_forbidden`), never silently dropped; a date-time
without an offset, a date or date-time given as a number, a number given as text ("2") or as
true/false, is a 422 on any field of a RequestModel.

A PATCH body's members may be left out but are not null unless null means something (clearing
a nullable value): `name: str = omittable(max_length=120)`, or `patch_of(Settings)` for a whole
model, so the schema says `string`, not `string or null`, and null is a 422 naming the field.
"""

import copy
import re
from collections.abc import Callable
from datetime import date, datetime
from types import UnionType
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
)

from services.common.http.screening import INT64_MAX, INT64_MIN


def _not_a_number(value: Any) -> Any:
    # pydantic reads numbers as Unix timestamps, and so numbers spelt as text (a query
    # parameter's `since=0.5`); the schema says an RFC 3339 string.
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
        raise ValueError("a date-time is an RFC 3339 string, e.g. 2026-01-01T09:00:00+08:00")
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("a date-time is an RFC 3339 string, e.g. 2026-01-01T09:00:00+08:00")
    return value


def _not_a_day_number(value: Any) -> Any:
    # pydantic reads `0` as 1970-01-01; the schema says an ISO 8601 date string.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("a date is an ISO 8601 string, e.g. 2026-01-01")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]
"""A point in time as an RFC 3339 string with its offset (`Z`, `+08:00`): not a naive
date-time, and not a number of seconds, which pydantic would otherwise take."""

DateTimeText = Annotated[datetime, BeforeValidator(_not_a_number)]
"""A date-time as an RFC 3339 string, with or without an offset (the route says how it reads a
naive one), never a number of seconds: for query parameters, which RequestModel does not see."""


def _a_day_as_text(value: Any) -> Any:
    # pydantic reads a query's `to=0` or `to=1700000000` as a Unix time; the schema says a
    # date, which is YYYY-MM-DD and nothing else.
    if isinstance(value, str) and not _DAY.fullmatch(value):
        raise ValueError("a date is an ISO 8601 string, e.g. 2026-01-01")
    return _not_a_day_number(value)


def _an_integer_as_text(value: Any) -> Any:
    # pydantic reads "2.0", " 2", "+2" and "2_000" as integers; a query's integer is digits.
    if isinstance(value, str) and not _INTEGER.fullmatch(value):
        raise ValueError("an integer is expected, e.g. 20")
    return value


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_INTEGER = re.compile(r"-?\d+")

DateText = Annotated[date, BeforeValidator(_a_day_as_text)]
"""A day as YYYY-MM-DD, never a number: for query parameters, which RequestModel does not see."""

DIGITS = BeforeValidator(_an_integer_as_text)
"""An integer as a query spells it ("20"), not "20.0", " 20" or "2_0": for query parameters,
beside their Query in the same Annotated (`Annotated[int, Query(ge=1), DIGITS]`; a nested
Annotated would lose the Query's bounds from the schema)."""

Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
"""An integer a BIGINT column holds."""

Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
"""An integer an INTEGER column holds."""


def _item_types(annotation: Any) -> set[Any]:
    """`list[int] | None` → {int}: the plain types of a list's items."""
    if get_origin(annotation) is Annotated:
        return _item_types(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return set().union(*(_item_types(arg) for arg in get_args(annotation)))
    if get_origin(annotation) is list:
        return _plain_types(get_args(annotation)[0])
    return set()


def _plain_types(annotation: Any) -> set[Any]:
    """`int | None` → {int, NoneType}; `Annotated[int, ...]` → {int}."""
    if get_origin(annotation) is Annotated:
        return _plain_types(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return set().union(*(_plain_types(arg) for arg in get_args(annotation)))
    return {annotation}


def _items_as_the_schema_says(value: list[Any], items: set[Any]) -> list[Any]:
    """The same rules for the items of a list (`discussion_weekdays: [false]`, `["2"]`,
    `exdates: [0]`)."""
    if datetime in items:
        return [_not_a_number(item) for item in value]
    if date in items:
        return [_not_a_day_number(item) for item in value]
    if items & {int, float}:
        if bool not in items and any(isinstance(item, bool) for item in value):
            raise ValueError("numbers are expected, not true or false")
        if not items & {str, Any} and any(isinstance(item, str) for item in value):
            raise ValueError("numbers are expected, not text")
    return value


class RequestModel(BaseModel):
    """Base of every request body: unknown members and naive date-times are refused."""

    model_config = ConfigDict(extra="forbid")

    # Members whose date-time is a wall-clock time in a zone the route knows (a schedule's
    # DTSTART in the community's zone): for them, a date-time without an offset is meant.
    local_date_times: ClassVar[frozenset[str]] = frozenset()

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
        if date in kinds:
            return _not_a_day_number(value)
        if isinstance(value, bool) and kinds & {int, float} and bool not in kinds:
            raise ValueError("a number is expected, not true or false")
        # pydantic reads the text "2" as the number 2; the schema says a JSON number.
        if isinstance(value, str) and kinds & {int, float} and not kinds & {str, Any}:
            raise ValueError("a number is expected, not text")
        # pydantic reads 0, 1, "yes" and "off" as booleans; the schema says true or false.
        if bool in kinds and kinds <= {bool, type(None)} and not isinstance(value, bool | None):
            raise ValueError("true or false is expected")
        if isinstance(value, list) and value:
            return _items_as_the_schema_says(
                value,
                _item_types(
                    cls.model_fields[info.field_name].annotation if info.field_name else None
                ),
            )
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _instants_have_offsets(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name in cls.local_date_times:
            return value
        naive = isinstance(value, datetime) and value.tzinfo is None
        if naive or (
            isinstance(value, list)
            and any(isinstance(v, datetime) and v.tzinfo is None for v in value)
        ):
            raise ValueError("a date-time needs an offset, e.g. 2026-01-01T09:00:00+08:00")
        return value


def _schema_without_default(extra: Any) -> Callable[[dict[str, Any]], None]:
    def adjust(schema: dict[str, Any]) -> None:
        if isinstance(extra, dict):
            schema.update(extra)
        elif callable(extra):
            extra(schema)
        # The default is "left as it is", not null: a client reading `default: null` would
        # send the null the server refuses.
        schema.pop("default", None)

    return adjust


def omittable(**constraints: Any) -> Any:
    """A member of a PATCH body that may be left out (nothing changes) but not sent as null:
    `role: Role = omittable()`. The schema has no null and no default; null is a 422."""
    extra = constraints.pop("json_schema_extra", None)
    return Field(default=None, json_schema_extra=_schema_without_default(extra), **constraints)


def patch_of(
    model: type[BaseModel],
    *,
    name: str | None = None,
    doc: str | None = None,
    nested: dict[type[BaseModel], type[BaseModel]] | None = None,
) -> type[RequestModel]:
    """The PATCH body of `model`: the same members with the same constraints, each omittable,
    nullable only where `model` is; a member typed as a key of `nested` takes its value's
    type instead (a section patched member by member). Cross-member rules of `model` are not
    copied: they hold for the merged result, which the caller validates as `model`."""
    nested = nested or {}
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        field = copy.copy(info)
        field.default = None
        field.default_factory = None
        field.json_schema_extra = _schema_without_default(info.json_schema_extra)
        annotation = nested.get(info.annotation, info.annotation)  # type: ignore[arg-type]
        fields[field_name] = (annotation, field)
    patch: type[RequestModel] = create_model(
        name or f"{model.__name__}Patch",
        __base__=RequestModel,
        __doc__=doc or f"Changes to {model.__name__}: only the members given change.",
        __module__=model.__module__,
        **fields,
    )
    return patch
