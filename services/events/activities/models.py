"""Activities (活动) and their sessions: the table rows and the API's shapes."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, field_validator, model_validator
from sqlalchemy import Column, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from services.common.http.schemas import RequestModel, omittable
from services.events.tables import EventsTable, timestamp_column, utcnow


class ActivityKind(StrEnum):
    talk = "talk"
    training_camp = "training_camp"
    meetup = "meetup"
    night_talk = "night_talk"
    contest = "contest"
    reading_club = "reading_club"
    ama = "ama"
    lottery = "lottery"
    checkin_challenge = "checkin_challenge"


class ActivityStatus(StrEnum):
    draft = "draft"
    published = "published"
    registration_open = "registration_open"
    closed = "closed"
    running = "running"
    finished = "finished"
    reported = "reported"
    cancelled = "cancelled"


class ValueDimension(StrEnum):
    """The six kinds of continuous value a community gives (DOMAIN.md rule 13)."""

    benefits = "benefits"
    information = "information"
    resources = "resources"
    cases = "cases"
    activities = "activities"
    connections = "connections"


class EligibilityAudience(StrEnum):
    members = "members"
    members_and_leads = "members_and_leads"


# ---- parts of an activity ------------------------------------------------------------------


class Eligibility(RequestModel):
    """Who may register; every condition must hold."""

    audience: EligibilityAudience = EligibilityAudience.members
    min_level: int = Field(default=0, ge=0, le=100)
    tags_any: list[str] = Field(default_factory=list, max_length=50)
    roles_any: list[str] = Field(default_factory=list, max_length=10)


class BudgetLine(RequestModel):
    item: str = Field(min_length=1, max_length=120)
    planned: float = Field(ge=0)
    spent: float = Field(default=0, ge=0)


class ActivityHost(RequestModel):
    member_id: str = Field(min_length=1, max_length=64)
    role: str = Field(default="host", max_length=40, description="e.g. kol, expert, local_leader")


class Schedule(RequestModel):
    """Sessions from an iCalendar RRULE, counted from `starts_at` in the community's zone
    (wall-clock times stay put across DST); `exceptions` are local dates with no session."""

    rrule: str = Field(
        min_length=1, max_length=500, description="e.g. FREQ=WEEKLY;BYDAY=WE;COUNT=8"
    )
    exceptions: list[date] = Field(default_factory=list, max_length=366)


class TemporaryGroupSpec(RequestModel):
    """Ask members for a temporary chat group for this activity (rule 11)."""

    platform: str = Field(default="wechat", max_length=20)
    name: str | None = Field(default=None, max_length=120)
    capacity: int | None = Field(default=None, ge=2, le=2000)
    grace_hours: int = Field(default=24, ge=0, le=24 * 30)


class RewardTier(RequestModel):
    name: str = Field(min_length=1, max_length=60)
    days: int = Field(ge=1, le=366)
    points: int = Field(default=0, ge=0)
    badge: str | None = Field(default=None, max_length=60)


class ChallengeSpec(RequestModel):
    """A daily check-in challenge (打卡): one check-in per local day from `starts_on` to
    `ends_on` inclusive."""

    starts_on: date
    ends_on: date
    makeup_cards: int = Field(default=0, ge=0, le=30)
    tiers: list[RewardTier] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _ordered(self) -> "ChallengeSpec":
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        if (self.ends_on - self.starts_on).days > 365:
            raise ValueError("a challenge lasts at most a year")
        return self


# ---- the activity --------------------------------------------------------------------------


class ActivityFields(SQLModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    value_dimension: ValueDimension | None = None
    goal: str = Field(default="", max_length=2000)
    online_url: str | None = Field(default=None, max_length=2000)
    place: str | None = Field(default=None, max_length=500)
    capacity: int | None = Field(default=None, ge=1, le=100_000, description="Per session.")
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    offer_hours: int | None = Field(
        default=None,
        ge=1,
        le=24 * 14,
        description="When set, a freed place is offered to the next waiting member for this "
        "many hours instead of given at once; an offer not accepted passes on.",
    )
    walk_ins: bool = Field(default=False, description="Check in members with no registration.")


# Read as wall-clock times in the community's zone when given without an offset.
_LOCAL_TIMES = frozenset(
    {"starts_at", "ends_at", "registration_opens_at", "registration_closes_at"}
)


class ActivityCreate(ActivityFields, RequestModel):  # type: ignore[misc]  # both configs are pydantic ConfigDicts
    local_date_times = _LOCAL_TIMES

    kind: ActivityKind
    starts_at: datetime = Field(
        description="Local wall-clock time in the community's zone when given without an "
        "offset; with an offset, that instant."
    )
    ends_at: datetime
    schedule: Schedule | None = None
    kpi_targets: dict[str, float] = Field(
        default_factory=dict,
        description="e.g. attendance, registrations, new_members, messages, rating, nps.",
    )
    budget: list[BudgetLine] = Field(default_factory=list, max_length=100)
    hosts: list[ActivityHost] = Field(default_factory=list, max_length=50)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    temporary_group: TemporaryGroupSpec | None = None
    challenge: ChallengeSpec | None = None

    @field_validator("kpi_targets")
    @classmethod
    def _few_targets(cls, value: dict[str, float]) -> dict[str, float]:
        if len(value) > 20 or any(len(k) > 40 for k in value):
            raise ValueError("at most 20 KPI targets, names up to 40 characters")
        return value

    @model_validator(mode="after")
    def _challenge_matches_kind(self) -> "ActivityCreate":
        if (self.kind == ActivityKind.checkin_challenge) != (self.challenge is not None):
            raise ValueError("a checkin_challenge needs `challenge`, and only it has one")
        return self


class ActivityUpdate(RequestModel):
    """Fields an operator may change while the activity has not finished; the schedule only
    while it is a draft. What is left out stays; null clears only what may be empty (the
    dimension, the link, the place, the registration window, the offer hours, the capacity)."""

    local_date_times = _LOCAL_TIMES

    title: str = omittable(min_length=1, max_length=200)
    description: str = omittable(max_length=10_000)
    goal: str = omittable(max_length=2000)
    value_dimension: ValueDimension | None = None
    online_url: str | None = Field(default=None, max_length=2000)
    place: str | None = Field(default=None, max_length=500)
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    kpi_targets: dict[str, float] = omittable()
    budget: list[BudgetLine] = omittable(max_length=100)
    hosts: list[ActivityHost] = omittable(max_length=50)
    eligibility: Eligibility = omittable()
    offer_hours: int | None = Field(default=None, ge=1, le=24 * 14)
    walk_ins: bool = omittable()
    capacity: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="Per session; raising it promotes the waiting list at once.",
    )


class Activity(EventsTable, table=True):
    id: str = Field(primary_key=True)
    workspace_id: str = Field(index=True)
    community_id: str = Field(index=True)
    kind: str
    title: str
    description: str = ""
    value_dimension: str | None = None
    goal: str = ""
    online_url: str | None = None
    place: str | None = None
    capacity: int | None = None
    starts_at: datetime = Field(sa_column=timestamp_column())
    ends_at: datetime = Field(sa_column=timestamp_column())
    schedule: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    registration_opens_at: datetime | None = Field(
        default=None, sa_column=timestamp_column(nullable=True)
    )
    registration_closes_at: datetime | None = Field(
        default=None, sa_column=timestamp_column(nullable=True)
    )
    offer_hours: int | None = None
    walk_ins: bool = False
    kpi_targets: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSONB))
    budget: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONB))
    hosts: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONB))
    eligibility: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB))
    temporary_group: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    challenge: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    group_id: str | None = None
    status: str = ActivityStatus.draft
    status_reason: str | None = None
    published_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())

    def rules(self) -> Eligibility:
        return Eligibility.model_validate(self.eligibility)


class ActivityPublic(ActivityFields):
    id: str
    community_id: str
    kind: ActivityKind
    status: ActivityStatus
    status_reason: str | None
    starts_at: datetime
    ends_at: datetime
    timezone: str
    schedule: Schedule | None
    kpi_targets: dict[str, float]
    budget: list[BudgetLine]
    hosts: list[ActivityHost]
    eligibility: Eligibility
    temporary_group: TemporaryGroupSpec | None
    challenge: ChallengeSpec | None
    group_id: str | None
    published_at: datetime | None
    created_at: datetime


class TransitionIn(RequestModel):
    to: ActivityStatus
    reason: str | None = Field(default=None, max_length=500)


class GroupLinkIn(RequestModel):
    group_id: str = Field(min_length=1, max_length=64)


# ---- sessions ------------------------------------------------------------------------------


class SessionStatus(StrEnum):
    scheduled = "scheduled"
    cancelled = "cancelled"
    ended = "ended"


class ActivitySession(EventsTable, table=True):
    """One occurrence: the unit people register for and check in to. `taken` counts places
    held (confirmed and offered); it changes only under the row's lock."""

    __tablename__ = "activity_session"
    __table_args__ = (UniqueConstraint("activity_id", "position"),)

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    activity_id: str = Field(index=True)
    position: int
    starts_at: datetime = Field(sa_column=timestamp_column())
    ends_at: datetime = Field(sa_column=timestamp_column())
    status: str = SessionStatus.scheduled
    capacity: int | None = None
    taken: int = 0
    reminded_24h: bool = False
    reminded_1h: bool = False
    closed_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class SessionPublic(BaseModel):
    id: str
    activity_id: str
    position: int
    starts_at: datetime
    ends_at: datetime
    local_date: date
    status: SessionStatus
    capacity: int | None
    taken: int


class EligibilityAnswer(BaseModel):
    member_id: str
    eligible: bool
    condition: str | None = Field(description="The first condition that failed, if any.")
    detail: str | None
