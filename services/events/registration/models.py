"""Registrations (报名) for a session, the waiting list in arrival order, and offers."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field

from services.common.http.schemas import RequestModel
from services.events.tables import EventsTable, timestamp_column


class RegistrationStatus(StrEnum):
    confirmed = "confirmed"
    waitlisted = "waitlisted"
    offered = "offered"  # a freed place is held for them until offer_expires_at
    cancelled = "cancelled"
    offer_expired = "offer_expired"


# Statuses that hold a place (count in the session's `taken`).
HOLDING = frozenset({RegistrationStatus.confirmed, RegistrationStatus.offered})
# Statuses of a live registration: registering again answers with it instead of a new one.
LIVE = HOLDING | {RegistrationStatus.waitlisted}


class RegistrationSource(StrEnum):
    api = "api"
    bot = "bot"
    walk_in = "walk_in"


class Registration(EventsTable, table=True):
    """One member's registration for one session. `arrival` is taken from a sequence while
    the session's row is locked, so it is the order in which registrations were decided: the
    waiting list is served in that order."""

    __table_args__ = (
        UniqueConstraint("session_id", "member_id"),
        Index("ix_registration_queue", "session_id", "status", "arrival"),
    )

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    activity_id: str = Field(index=True)
    session_id: str
    member_id: str = Field(index=True)
    status: str
    arrival: int = Field(sa_column=Column(BigInteger, nullable=False))
    source: str = RegistrationSource.api
    code: str = Field(unique=True, description="Single-use check-in code (for a QR code).")
    registered_at: datetime = Field(sa_column=timestamp_column())
    confirmed_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    offer_expires_at: datetime | None = Field(
        default=None, sa_column=timestamp_column(nullable=True)
    )
    cancelled_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    checked_in_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    no_show: bool = False


class RegistrationIn(RequestModel):
    member_id: str = Field(min_length=1, max_length=64)
    session_id: str | None = Field(
        default=None, max_length=64, description="Default: the next session still to start."
    )


class CancellationIn(RequestModel):
    reason: str = Field(default="member", max_length=200)


class RegistrationPublic(BaseModel):
    id: str
    activity_id: str
    session_id: str
    member_id: str
    status: RegistrationStatus
    arrival: int
    waitlist_position: int | None
    source: RegistrationSource
    code: str
    registered_at: datetime
    confirmed_at: datetime | None
    offer_expires_at: datetime | None
    cancelled_at: datetime | None
    checked_in_at: datetime | None
    no_show: bool
