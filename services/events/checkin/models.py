"""Check-in (签到) at a session: by member or by the registration's single-use code."""

from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from services.common.http.schemas import RequestModel


class CheckInIn(RequestModel):
    member_id: str | None = Field(default=None, max_length=64)
    code: str | None = Field(default=None, max_length=64, description="From the QR code.")

    @model_validator(mode="after")
    def _one_way(self) -> "CheckInIn":
        if (self.member_id is None) == (self.code is None):
            raise ValueError("give exactly one of member_id and code")
        return self


class CheckInPublic(BaseModel):
    registration_id: str
    session_id: str
    member_id: str
    checked_in_at: datetime
    walk_in: bool


class SessionClosed(BaseModel):
    session_id: str
    attended: int
    no_shows: int
