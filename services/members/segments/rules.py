"""The rules of a segment (分层分类): which members it selects. Every rule present must hold
(AND); a list within a rule means "one of" unless it says otherwise. Rules that can never
match anyone (min above max, a tag both required and excluded) are refused when saved, so
an empty segment always means "nobody matches yet", never "the rules contradict".

Relative rules (`within_days`, `active_within_days`, `inactive_days`) are evaluated when the
segment is, in days of the community's timezone: N days means since the start of the local
day N days before today."""

from typing import Any, Self

from pydantic import (
    AwareDatetime,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from services.common.http.schemas import RequestModel
from services.members.vocabulary import MemberStatus, Role, Stage

MAX_IDS = 50


MAX_DAYS = 3650


Ids = list[str]


def _ids(description: str) -> Any:
    return Field(default=None, min_length=1, max_length=MAX_IDS, description=description)


class _Rule(RequestModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.model_dump(exclude_none=True):
            raise ValueError("an empty rule; leave it out instead")
        return self


def _distinct(field: str, values: Ids | None) -> None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError(f"{field} lists an id twice")


class TagRule(_Rule):
    any: Ids | None = _ids("Has at least one of these tags.")
    all: Ids | None = _ids("Has every one of these tags.")
    none: Ids | None = _ids("Has none of these tags.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name in ("any", "all", "none"):
            _distinct(name, getattr(self, name))
        excluded = set(self.none or ())
        if both := sorted(set(self.all or ()) & excluded):
            raise ValueError(f"tags both required and excluded: {', '.join(both)}")
        if self.any and set(self.any) <= excluded:
            raise ValueError("every tag in `any` is also in `none`")
        return self

    def ids(self) -> set[str]:
        return {*(self.any or ()), *(self.all or ()), *(self.none or ())}


class GroupRule(_Rule):
    any: Ids | None = _ids("In at least one of these groups now.")
    none: Ids | None = _ids("In none of these groups now.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name in ("any", "none"):
            _distinct(name, getattr(self, name))
        if self.any and set(self.any) <= set(self.none or ()):
            raise ValueError("every group in `any` is also in `none`")
        return self

    def ids(self) -> set[str]:
        return {*(self.any or ()), *(self.none or ())}


class Range(_Rule):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class JoinedRule(_Rule):
    from_: AwareDatetime | None = Field(default=None, alias="from", description="Inclusive.")
    to: AwareDatetime | None = Field(default=None, description="Exclusive.")
    within_days: int | None = Field(default=None, ge=1, le=MAX_DAYS)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.from_ and self.to and self.from_ >= self.to:
            raise ValueError("`from` must be before `to`")
        if self.within_days is not None and self.from_ is not None:
            raise ValueError("give `from` or `within_days`, not both")
        return self


class LastActiveRule(_Rule):
    after: AwareDatetime | None = Field(default=None, description="Active at or after.")
    before: AwareDatetime | None = Field(
        default=None,
        description="No activity since; members who never spoke count from when they joined.",
    )
    active_within_days: int | None = Field(default=None, ge=1, le=MAX_DAYS)
    inactive_days: int | None = Field(
        default=None,
        ge=1,
        le=MAX_DAYS,
        description="Inactive for N days; members who never spoke count from when they joined.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.after is not None and self.active_within_days is not None:
            raise ValueError("give `after` or `active_within_days`, not both")
        if self.before is not None and self.inactive_days is not None:
            raise ValueError("give `before` or `inactive_days`, not both")
        if self.after and self.before and self.after >= self.before:
            raise ValueError("`after` must be before `before`")
        active, inactive = self.active_within_days, self.inactive_days
        if active is not None and inactive is not None and active <= inactive:
            raise ValueError("active within the last N days and inactive for M days needs N > M")
        return self


class SegmentRules(RequestModel):
    """Who is in a segment. No rules at all: every active or muted member."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tags: TagRule | None = None
    stage: list[Stage] | None = Field(
        default=None, min_length=1, description="One of.", json_schema_extra={"uniqueItems": True}
    )
    level: Range | None = None
    points: Range | None = None
    joined: JoinedRule | None = None
    last_active: LastActiveRule | None = None
    groups: GroupRule | None = None
    role: list[Role] | None = Field(
        default=None, min_length=1, description="One of.", json_schema_extra={"uniqueItems": True}
    )
    status: list[MemberStatus] = Field(
        default_factory=lambda: [MemberStatus.active, MemberStatus.muted],
        min_length=1,
        description="One of; merged-away records are never in a segment.",
        # The document offers only the statuses a segment takes.
        json_schema_extra={
            "uniqueItems": True,
            "items": {
                "type": "string",
                "enum": [s.value for s in MemberStatus if s != MemberStatus.merged],
            },
        },
    )

    @field_validator("stage", "role", "status")
    @classmethod
    def _distinct(cls, values: list[str] | None) -> list[str] | None:
        if values is not None and len(set(values)) != len(values):
            raise ValueError("a value is listed twice")
        return values

    @field_validator("status")
    @classmethod
    def _no_merged(cls, values: list[MemberStatus]) -> list[MemberStatus]:
        if MemberStatus.merged in values:
            raise ValueError("merged-away records are never in a segment; leave out `merged`")
        return values

    def as_json(self) -> dict[str, Any]:
        """The stored and returned form: only what was set, `from` by its name."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
