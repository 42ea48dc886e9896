"""Purchases: what moves a member to `paying`. Amounts are decimals in an ISO 4217 currency,
never floats; a shop's order reference is recorded once per community."""

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import field_validator
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Field, Session, SQLModel, col, select

from services.common.contracts.lifecycle import PurchaseRecorded
from services.common.http.problems import Problem, field_problem
from services.common.ids import new_id
from services.members import merge
from services.members.models import Member, MembersTable, now, timestamp_column
from services.members.service import emit

_CURRENCY = re.compile(r"[A-Z]{3}")


class PurchaseIn(SQLModel):
    amount: Decimal = Field(
        gt=0,
        max_digits=18,
        decimal_places=4,
        description='A positive decimal, best sent as a string ("199.00").',
    )
    currency: str = Field(description="ISO 4217 code, e.g. CNY.")
    reference: str = Field(
        min_length=1, max_length=200, description="The order's id; one purchase per reference."
    )
    purchased_at: datetime | None = Field(default=None, description="Defaults to now.")

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str) -> str:
        code = value.strip().upper()
        if not _CURRENCY.fullmatch(code):
            raise ValueError("currency must be an ISO 4217 code of three letters, e.g. CNY")
        return code

    @field_validator("purchased_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("purchased_at needs a timezone offset")
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


def record_purchase(
    *, session: Session, member: Member, purchase_in: PurchaseIn, actor: str
) -> Purchase:
    """Record a purchase once per reference, or a 409 naming the purchase that has it."""
    purchased_at = (purchase_in.purchased_at or now()).astimezone(UTC)
    if purchased_at > now():
        raise field_problem("purchased_at", "purchased_at cannot be in the future.")
    purchase_id = session.execute(
        insert(Purchase.__table__)  # type: ignore[attr-defined]
        .values(
            id=new_id("pur"),
            workspace_id=member.workspace_id,
            community_id=member.community_id,
            member_id=member.id,
            amount=purchase_in.amount,
            currency=purchase_in.currency,
            reference=purchase_in.reference,
            purchased_at=purchased_at,
            actor=actor,
            created_at=now(),
        )
        .on_conflict_do_nothing()
        .returning(sa.column("id"))
    ).scalar_one_or_none()
    if purchase_id is None:
        earlier = session.exec(
            select(Purchase).where(
                Purchase.community_id == member.community_id,
                Purchase.reference == purchase_in.reference,
            )
        ).one()
        raise Problem(
            409,
            "duplicate-purchase-reference",
            "Purchase already recorded",
            f"A purchase with reference {purchase_in.reference!r} is already recorded.",
            purchase_id=earlier.id,
        )
    purchase = session.get_one(Purchase, purchase_id)
    emit(
        session,
        PurchaseRecorded(
            purchase_id=purchase.id,
            member_id=member.id,
            community_id=member.community_id,
            amount=str(purchase.amount),
            currency=purchase.currency,
            reference=purchase.reference,
            purchased_at=purchase.purchased_at,
            recorded_at=purchase.created_at,
        ),
        member=member,
        community_id=member.community_id,
        workspace_id=member.workspace_id,
    )
    return purchase


def purchases_query(*, member: Member) -> Any:
    return select(Purchase).where(Purchase.member_id == member.id)


@merge.merge_step
def _merge_purchases(session: Session, survivor: Member, merged: Member) -> None:
    session.execute(
        sa.update(Purchase.__table__)  # type: ignore[attr-defined]
        .where(col(Purchase.member_id) == merged.id)
        .values(member_id=survivor.id)
    )
