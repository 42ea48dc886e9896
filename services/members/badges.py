"""Badges (徽章): honours a community defines, awarded by rule or by an operator, once each.

A rule badge is checked whenever a member's points or referrals change and by a periodic
sweep, which also catches what no event touches (message counts, badges defined later).
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, model_validator
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlmodel import Column, Field, Session, col, func, select

from services.common.contracts.incentives import MemberBadgeAwarded
from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import ActorDep, WorkspaceDep
from services.common.http.problems import Problem, field_problem, not_found
from services.common.ids import new_id
from services.common.periodic import PeriodicJob
from services.members import service
from services.members.merge import merge_step
from services.members.models import Member, MembersTable, MemberStatus, now, timestamp_column
from services.members.referrals_records import Referral, ReferralState

router = APIRouter(tags=["badges"])

CURRENT = (MemberStatus.active, MemberStatus.muted)
SWEEP_BATCH = 500


class BadgeRule(BaseModel):
    """Every criterion given must hold; a member qualifying is awarded the badge by itself."""

    model_config = {"extra": "forbid"}

    min_points: int | None = Field(default=None, ge=1)
    min_level: int | None = Field(default=None, ge=2, le=50)
    min_successful_referrals: int | None = Field(default=None, ge=1, le=100_000)
    min_messages: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _some_criterion(self) -> "BadgeRule":
        if not self.model_dump(exclude_none=True):
            raise ValueError("a rule needs at least one criterion")
        return self


class Badge(MembersTable, table=True):
    __table_args__ = (sa.UniqueConstraint("community_id", "name", name="uq_badge_name"),)

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(index=True)
    name: str
    description: str
    # SQL NULL, not JSON null, for "no rule": queries filter on it.
    rule: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSONB(none_as_null=True), nullable=True)
    )
    created_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class BadgeAward(MembersTable, table=True):
    __tablename__ = "badge_award"
    __table_args__ = (
        sa.UniqueConstraint("badge_id", "member_id", name="uq_badge_award_member"),
        sa.Index("ix_badge_award_member", "member_id", "awarded_at"),
    )

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str
    badge_id: str
    member_id: str
    reason: str
    actor: str
    awarded_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class BadgeCreate(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=1000)
    rule: BadgeRule | None = None


class BadgePublic(BaseModel):
    id: str
    community_id: str
    name: str
    description: str
    rule: BadgeRule | None
    created_at: datetime


class AwardCreate(BaseModel):
    member_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)


class AwardPublic(BaseModel):
    id: str
    badge_id: str
    badge_name: str
    member_id: str
    reason: str
    actor: str
    awarded_at: datetime


def _public(badge: Badge) -> BadgePublic:
    return BadgePublic.model_validate(badge, from_attributes=True)


def _award_public(award: BadgeAward, badge: Badge) -> AwardPublic:
    return AwardPublic(
        **award.model_dump(exclude={"workspace_id", "community_id"}), badge_name=badge.name
    )


def create_badge(
    *, session: Session, workspace_id: str, community_id: str, badge_in: BadgeCreate
) -> Badge:
    """Define a badge; names are unique in a community."""
    service.get_community(session=session, workspace_id=workspace_id, community_id=community_id)
    badge = Badge(
        id=new_id("bdg"),
        workspace_id=workspace_id,
        community_id=community_id,
        name=badge_in.name.strip(),
        description=badge_in.description,
        rule=badge_in.rule.model_dump(exclude_none=True) if badge_in.rule else None,
    )
    taken = session.exec(
        select(Badge.id).where(Badge.community_id == community_id, Badge.name == badge.name)
    ).first()
    if taken is not None:
        raise Problem(
            409,
            "badge-name-taken",
            "Badge name taken",
            f"A badge named {badge.name!r} exists.",
            badge_id=taken,
        )
    session.add(badge)
    session.flush()
    return badge


def get_badge(*, session: Session, workspace_id: str, community_id: str, badge_id: str) -> Badge:
    badge = session.exec(
        select(Badge).where(
            Badge.id == badge_id,
            Badge.community_id == community_id,
            Badge.workspace_id == workspace_id,
        )
    ).one_or_none()
    if badge is None:
        raise not_found("badge", badge_id)
    return badge


def award_badge(
    *, session: Session, badge: Badge, member: Member, reason: str, actor: str
) -> tuple[BadgeAward, bool]:
    """Give `member` the badge once; returns the award and whether it is new."""
    award_id = session.execute(
        insert(BadgeAward.__table__)  # type: ignore[attr-defined]
        .values(
            id=new_id("bga"),
            workspace_id=member.workspace_id,
            community_id=member.community_id,
            badge_id=badge.id,
            member_id=member.id,
            reason=reason,
            actor=actor,
            awarded_at=now(),
        )
        .on_conflict_do_nothing()
        .returning(sa.column("id"))
    ).scalar_one_or_none()
    if award_id is None:
        existing = session.exec(
            select(BadgeAward).where(
                BadgeAward.badge_id == badge.id, BadgeAward.member_id == member.id
            )
        ).one()
        return existing, False
    award = session.get_one(BadgeAward, award_id)
    service.emit(
        session,
        MemberBadgeAwarded(
            award_id=award.id,
            badge_id=badge.id,
            badge_name=badge.name,
            member_id=member.id,
            community_id=member.community_id,
            reason=reason,
            actor=actor,
            awarded_at=award.awarded_at,
        ),
        member=member,
        community_id=member.community_id,
        workspace_id=member.workspace_id,
    )
    return award, True


def _qualifies(rule: BadgeRule) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = [col(Member.status).in_(CURRENT)]
    if rule.min_points is not None:
        conditions.append(col(Member.points) >= rule.min_points)
    if rule.min_level is not None:
        conditions.append(col(Member.level) >= rule.min_level)
    if rule.min_messages is not None:
        conditions.append(col(Member.message_count) >= rule.min_messages)
    if rule.min_successful_referrals is not None:
        successes = (
            select(func.count())
            .select_from(Referral)
            .where(Referral.referrer_id == Member.id, Referral.state == ReferralState.succeeded)
            .scalar_subquery()
        )
        conditions.append(successes >= rule.min_successful_referrals)
    return conditions


def _award_qualifying(
    session: Session, badge: Badge, *, member_id: str | None = None, limit: int = SWEEP_BATCH
) -> int:
    """Award a rule badge to members who qualify and lack it (one member, or up to `limit`)."""
    assert badge.rule is not None
    held = select(BadgeAward.member_id).where(BadgeAward.badge_id == badge.id)
    query = select(Member).where(
        Member.community_id == badge.community_id,
        Member.workspace_id == badge.workspace_id,
        col(Member.id).not_in(held),
        *_qualifies(BadgeRule.model_validate(badge.rule)),
    )
    if member_id is not None:
        query = query.where(Member.id == member_id)
    awarded = 0
    for member in session.exec(query.order_by(col(Member.id)).limit(limit)).all():
        _, created = award_badge(
            session=session, badge=badge, member=member, reason="rule", actor="system"
        )
        awarded += created
    return awarded


def check_rules(*, session: Session, member: Member) -> int:
    """Award the rule badges `member` now qualifies for; returns how many."""
    if member.status not in CURRENT:
        return 0
    session.flush()
    lacking = session.exec(
        select(Badge).where(
            Badge.community_id == member.community_id,
            col(Badge.rule).is_not(None),
            col(Badge.id).not_in(
                select(BadgeAward.badge_id).where(BadgeAward.member_id == member.id)
            ),
        )
    ).all()
    return sum(_award_qualifying(session, badge, member_id=member.id) for badge in lacking)


def sweep(session: Session, at: datetime) -> int:
    """Award every rule badge to whoever qualifies (a periodic job), a bounded batch per pass."""
    budget = SWEEP_BATCH
    for badge in session.exec(
        select(Badge).where(col(Badge.rule).is_not(None)).order_by(col(Badge.id))
    ):
        if budget <= 0:
            break
        budget -= _award_qualifying(session, badge, limit=budget)
    return SWEEP_BATCH - budget


JOBS = [PeriodicJob("badge-rules", 300, sweep)]


@merge_step
def _move_awards(session: Session, survivor: Member, merged: Member) -> None:
    """Awards move unless the survivor holds that badge already; duplicates stay as history."""
    session.execute(
        sa.update(BadgeAward)
        .where(
            col(BadgeAward.member_id) == merged.id,
            col(BadgeAward.badge_id).not_in(
                select(BadgeAward.badge_id).where(BadgeAward.member_id == survivor.id)
            ),
        )
        .values(member_id=survivor.id)
    )


# ---- routes ------------------------------------------------------------------------------


@router.post(
    "/communities/{community_id}/badges",
    status_code=status.HTTP_201_CREATED,
    response_model=BadgePublic,
    responses={409: {"description": "A badge with this name exists (`badge-name-taken`)."}},
)
def create_badge_route(
    community_id: str,
    body: BadgeCreate,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    once: OnceDep,
) -> JSONResponse:
    """Define a badge; with a `rule` it is awarded by itself to every member who qualifies."""

    def create() -> tuple[int, BadgePublic]:
        badge = create_badge(
            session=session, workspace_id=workspace_id, community_id=community_id, badge_in=body
        )
        return 201, _public(badge)

    return once.run(body, create)


@router.get("/communities/{community_id}/badges", response_model=list[BadgePublic])
def list_badges(
    community_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> list[BadgePublic]:
    service.get_community(session=session, workspace_id=workspace_id, community_id=community_id)
    rows = session.exec(
        select(Badge).where(Badge.community_id == community_id).order_by(col(Badge.id))
    )
    return [_public(b) for b in rows]


@router.post(
    "/communities/{community_id}/badges/{badge_id}/awards",
    status_code=status.HTTP_201_CREATED,
    response_model=AwardPublic,
    responses={
        200: {"model": AwardPublic, "description": "The member holds it already; nothing changes."},
        409: {"description": "The member is not a current member (`member-not-current`)."},
    },
)
def award_badge_route(
    community_id: str,
    badge_id: str,
    body: AwardCreate,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    actor: ActorDep,
    once: OnceDep,
) -> JSONResponse:
    """Award a badge by hand; a member holds each badge once."""

    def create() -> tuple[int, AwardPublic]:
        badge = get_badge(
            session=session, workspace_id=workspace_id, community_id=community_id, badge_id=badge_id
        )
        member = session.exec(
            select(Member).where(
                Member.id == body.member_id,
                Member.community_id == community_id,
                Member.workspace_id == workspace_id,
            )
        ).one_or_none()
        if member is None:
            raise field_problem(
                "member_id", f"member {body.member_id} is not in this community", "unknown-member"
            )
        if member.status not in CURRENT:
            raise Problem(
                409,
                "member-not-current",
                "Not a current member",
                f"Badges go to active or muted members; {member.id} is {member.status}.",
            )
        award, created = award_badge(
            session=session, badge=badge, member=member, reason=body.reason, actor=actor
        )
        return (201 if created else 200), _award_public(award, badge)

    return once.run(body, create)


@router.get(
    "/communities/{community_id}/members/{member_id}/badges", response_model=list[AwardPublic]
)
def member_badges(
    community_id: str, member_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> list[AwardPublic]:
    """The badges a member holds, oldest first."""
    member = service.get_member(
        session=session, workspace_id=workspace_id, community_id=community_id, member_id=member_id
    )
    rows = session.exec(
        select(BadgeAward, Badge)
        .join(Badge, col(Badge.id) == BadgeAward.badge_id)
        .where(BadgeAward.member_id == member.id)
        .order_by(col(BadgeAward.awarded_at), col(BadgeAward.id))
    )
    return [_award_public(award, badge) for award, badge in rows]
