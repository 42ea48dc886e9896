"""The report of an activity (rule 17): what was planned against what happened."""

from datetime import datetime

from pydantic import BaseModel

from services.events.activities.models import BudgetLine


class RegistrationFigures(BaseModel):
    members_registered: int
    confirmed: int
    waitlisted: int
    offered: int
    cancelled: int
    offer_expired: int
    from_bots: int
    walk_ins: int


class AttendanceFigures(BaseModel):
    attended: int
    no_shows: int
    rate: float | None


class NewMembers(BaseModel):
    count: int
    definition: str


class ReportMessages(BaseModel):
    available: bool
    count: int | None
    note: str


class FeedbackFigures(BaseModel):
    responses: int
    average_rating: float | None
    nps: float | None
    promoters: int
    passives: int
    detractors: int


class BudgetFigures(BaseModel):
    lines: list[BudgetLine]
    planned: float
    spent: float
    remaining: float


class KpiResult(BaseModel):
    name: str
    target: float
    result: float | None
    met: bool | None


class Report(BaseModel):
    activity_id: str
    title: str
    kind: str
    status: str
    goal: str
    value_dimension: str | None
    timezone: str
    starts_at: datetime
    ends_at: datetime
    sessions: int
    sessions_cancelled: int
    registrations: RegistrationFigures
    attendance: AttendanceFigures
    new_members: NewMembers
    messages: ReportMessages
    feedback: FeedbackFigures
    budget: BudgetFigures
    kpis: list[KpiResult]
    draws: int
    prizes_won: int
    generated_at: datetime
