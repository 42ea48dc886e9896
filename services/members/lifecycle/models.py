"""The lifecycle (社群链条): stage changes and purchases (tables), the funnel and API shapes."""

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import field_validator
from sqlmodel import Field, SQLModel

from services.common.clock import now
from services.common.http.schemas import Instant, RequestModel
from services.members.tables import MembersTable, timestamp_column
from services.members.vocabulary import Stage


class StageChange(MembersTable, table=True):
    __tablename__ = "member_stage_change"

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    member_id: str = Field(index=True)
    from_stage: Stage
    to_stage: Stage
    reason: str
    actor: str
    at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class StageChangePublic(SQLModel):
    id: str
    from_stage: Stage
    to_stage: Stage
    reason: str
    actor: str
    at: datetime


class StageIn(RequestModel):
    stage: Stage
    reason: str = Field(min_length=1, max_length=500, description="Why; kept in the history.")


class FunnelStage(SQLModel):
    stage: Stage
    members: int  # in this stage now
    reached: int  # in this stage or further
    conversion: float | None  # reached / the previous stage's reached; None after nobody


class Funnel(SQLModel):
    community_id: str
    total: int
    stages: list[FunnelStage]
    as_of: datetime


_CURRENCY = re.compile(r"[A-Z]{3}")


def _amount_schema(schema: dict[str, Any]) -> None:
    # pydantic documents a Decimal as any number or any string; say what the field takes:
    # positive, at most 14 digits before the point and 4 after.
    number, text = schema["anyOf"]
    number["exclusiveMaximum"] = 10**14
    text["pattern"] = r"^(?=.*[1-9])[0-9]{1,14}(\.[0-9]{1,4})?$"


class PurchaseIn(RequestModel):
    amount: Decimal = Field(
        gt=0,
        max_digits=18,
        decimal_places=4,
        description='A positive decimal, best sent as a string ("199.00").',
        schema_extra={"json_schema_extra": _amount_schema},
    )
    currency: str = Field(
        min_length=3,
        max_length=3,
        schema_extra={"pattern": "^[A-Z]{3}$", "examples": ["CNY"]},
        description="ISO 4217 code in capitals, e.g. CNY.",
    )
    reference: str = Field(
        min_length=1, max_length=200, description="The order's id; one purchase per reference."
    )
    purchased_at: Instant | None = Field(default=None, description="Defaults to now.")

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str) -> str:
        if not _CURRENCY.fullmatch(value):
            raise ValueError("currency must be an ISO 4217 code of three capitals, e.g. CNY")
        return value


class Purchase(MembersTable, table=True):
    __tablename__ = "member_purchase"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "reference", name="uq_member_purchase_reference"),
    )

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    member_id: str = Field(index=True)
    amount: Decimal = Field(sa_column=sa.Column(sa.Numeric(18, 4), nullable=False))
    currency: str
    reference: str
    purchased_at: datetime = Field(sa_column=timestamp_column())
    actor: str
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class PurchasePublic(SQLModel):
    id: str
    member_id: str
    amount: Decimal
    currency: str
    reference: str
    purchased_at: datetime
    created_at: datetime
