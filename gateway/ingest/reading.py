"""Reading a batch: the whole body validated in one pass of pydantic-core when every item is
good (the common case, and the one the 20,000-a-second target rides on), item by item only
when some are not, so the good ones are kept and each bad one is answered with its reasons."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import orjson
from pydantic import TypeAdapter, ValidationError

from gateway.ingest.models import (
    MAX_ITEMS,
    GroupEventBatch,
    GroupEventIn,
    ItemError,
    MessageBatchFields,
    MessageFields,
)
from services.common.http.problems import Problem, ProblemType
from services.common.http.screening import json_errors

Item = TypeVar("Item")


class BatchTooLarge(
    ProblemType,
    status=413,
    title="Batch too large",
    detail="A batch holds at most {max_items} items; this one has {items}. Split it.",
):
    max_items: int
    items: int


@dataclass
class Reading(Generic[Item]):
    """A batch read: the good items by their index, the bad ones' reasons by theirs."""

    size: int
    valid: list[tuple[int, Item]] = field(default_factory=list)
    rejected: dict[int, list[ItemError]] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchShape(Generic[Item]):
    """How one endpoint's batch reads: its envelope, the list's name, one item's type."""

    batch: TypeAdapter[Any]
    member: str
    item: TypeAdapter[Item]
    # Discriminator values pydantic puts in an error's location (`events.3.<tag>.data.x`);
    # a client knows the item by its index, so they are left out of the field path.
    tags: frozenset[str] = frozenset()

    def read(self, body: bytes) -> Reading[Item]:
        try:
            batch = self.batch.validate_json(body)
        except ValidationError as exc:
            return self._item_by_item(body, exc)
        items: Sequence[Item] = (
            batch[self.member] if isinstance(batch, dict) else getattr(batch, self.member)
        )
        reading = Reading[Item](size=len(items), valid=list(enumerate(items)))
        if b"\\u0000" in body:  # JSON can carry a NUL only escaped; rare, so checked apart
            self._refuse_nul_characters(body, reading)
        return reading

    def _item_by_item(self, body: bytes, exc: ValidationError) -> Reading[Item]:
        """Envelope errors refuse the whole request; item errors only their items."""
        for error in exc.errors(include_url=False):
            if error["loc"] == (self.member,) and error["type"] == "too_long":
                size = error.get("ctx", {}).get("actual_length")
                raise BatchTooLarge(max_items=MAX_ITEMS, items=size or MAX_ITEMS + 1)
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise _invalid(exc) from exc
        raw = document.get(self.member) if isinstance(document, dict) else None
        if (
            not isinstance(raw, list)
            or set(document) != {self.member}
            or not raw
            # what orjson and pydantic's parser read differently (a huge number, a NaN)
            or any(len(e["loc"]) < 2 for e in exc.errors())
        ):
            raise _invalid(exc) from exc
        reading = Reading[Item](size=len(raw))
        for index, item in enumerate(raw):
            errors = self._nul_errors(index, item)
            if errors:
                reading.rejected[index] = errors
                continue
            try:
                # Re-encoded and read as JSON, so an item reads exactly as in the fast path.
                reading.valid.append((index, self.item.validate_json(orjson.dumps(item))))
            except ValidationError as item_exc:
                reading.rejected[index] = [
                    ItemError(
                        field=self._path(index, e["loc"], e["type"]),
                        message=e["msg"],
                        code=e["type"],
                    )
                    for e in item_exc.errors(include_url=False)
                ]
        return reading

    def _refuse_nul_characters(self, body: bytes, reading: Reading[Item]) -> None:
        raw = orjson.loads(body)[self.member]
        kept = []
        for index, item in reading.valid:
            errors = self._nul_errors(index, raw[index])
            if errors:
                reading.rejected[index] = errors
            else:
                kept.append((index, item))
        reading.valid = kept

    def _nul_errors(self, index: int, item: Any) -> list[ItemError]:
        # Postgres refuses NUL in text: such a message would poison its consumers.
        return [
            ItemError(
                field=f"{self.member}.{index}.{e['field']}", message=e["message"], code=e["code"]
            )
            for e in json_errors(item)
            if e["code"] == "null_character"
        ]

    def _path(self, index: int, loc: tuple[int | str, ...], error_type: str) -> str:
        parts = [str(p) for p in loc if not (isinstance(p, str) and p in self.tags)]
        if error_type in ("union_tag_invalid", "union_tag_not_found"):
            parts.append("type")
        return ".".join([self.member, str(index), *parts])


def _invalid(exc: ValidationError) -> Problem:
    found = exc.errors(include_url=False)
    about_the_envelope = [e for e in found if len(e["loc"]) < 2] or found
    errors = [
        {
            "field": ".".join(str(p) for p in e["loc"]) or "body",
            "in": "body",
            "message": e["msg"],
            "code": e["type"],
        }
        for e in about_the_envelope[:20]
    ]
    return Problem(
        422,
        "validation-error",
        "The request is not valid",
        "The batch itself is malformed; no item was read.",
        errors=errors,
    )


def _shape(batch: Any, member: str, item: Any, tags: frozenset[str]) -> BatchShape[Any]:
    return BatchShape(TypeAdapter(batch), member, TypeAdapter(item), tags)


# Messages are read into dicts (`models.as_fields`), the fields of `MessageIn`.
MESSAGES: BatchShape[dict[str, Any]] = _shape(
    MessageBatchFields, "messages", MessageFields, frozenset()
)
GROUP_EVENTS: BatchShape[Any] = _shape(
    GroupEventBatch,
    "events",
    GroupEventIn,
    frozenset({"group_member_joined", "group_member_left"}),
)
