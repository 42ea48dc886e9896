"""Purchases: what moves a member to `paying`. Amounts are decimals in an ISO 4217 currency,
never floats; a shop's order reference is recorded once per community."""

from datetime import UTC
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from services.common.clock import now
from services.common.contracts.lifecycle import PurchaseRecorded
from services.common.http.problems import field_problem
from services.common.ids import new_id
from services.members import problems
from services.members.community.models import Member
from services.members.lifecycle.models import Purchase, PurchaseIn
from services.members.publishing import emit


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
        raise problems.DuplicatePurchaseReference(
            reference=purchase_in.reference, purchase_id=earlier.id
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
    """The member's purchases."""
    return select(Purchase).where(Purchase.member_id == member.id)


def merge_purchases(session: Session, *, survivor: Member, merged: Member) -> None:
    """The merged member's purchases become the survivor's."""
    session.execute(
        sa.update(Purchase.__table__)  # type: ignore[attr-defined]
        .where(col(Purchase.member_id) == merged.id)
        .values(member_id=survivor.id)
    )
