"""Daily check-in challenges (打卡): participants, their check-ins by local day, make-up cards
and reward tiers. A challenge is an activity of kind `checkin_challenge`; its id is the
activity's."""

from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy import Column, Date, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field

from services.common.http.schemas import RequestModel
from services.events.tables import EventsTable, timestamp_column


class ChallengeParticipant(EventsTable, table=True):
    __tablename__ = "challenge_participant"

    challenge_id: str = Field(primary_key=True)
    member_id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    days: int = 0
    streak: int = 0
    best_streak: int = 0
    last_day: date | None = Field(default=None, sa_column=Column(Date))
    makeups_used: int = 0
    tiers_reached: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(Text), nullable=False)
    )
    completed_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class ChallengeCheckIn(EventsTable, table=True):
    __tablename__ = "challenge_checkin"

    challenge_id: str = Field(primary_key=True)
    member_id: str = Field(primary_key=True)
    day: date = Field(sa_column=Column(Date, primary_key=True))
    workspace_id: str
    recorded_at: datetime = Field(sa_column=timestamp_column())
    text: str | None = None
    link: str | None = None
    makeup: bool = False


class DailyCheckInIn(RequestModel):
    member_id: str = Field(min_length=1, max_length=64)
    text: str | None = Field(default=None, max_length=2000)
    link: str | None = Field(default=None, max_length=2000)


class MakeupIn(RequestModel):
    member_id: str = Field(min_length=1, max_length=64)
    day: date = Field(description="A missed local day of the challenge, before today.")
    text: str | None = Field(default=None, max_length=2000)


class ParticipantPublic(BaseModel):
    challenge_id: str
    member_id: str
    days: int
    streak: int
    best_streak: int
    last_day: date | None
    makeups_used: int
    makeups_left: int
    tiers_reached: list[str]
    completed_at: datetime | None
    check_in_days: list[date]


class DailyCheckInPublic(BaseModel):
    challenge_id: str
    member_id: str
    day: date
    makeup: bool
    recorded_at: datetime
    streak: int
    days: int


class LeaderboardEntry(BaseModel):
    rank: int | None = Field(description="Only on the first page (ranks need the whole order).")
    member_id: str
    days: int
    streak: int
    best_streak: int
    completed: bool
