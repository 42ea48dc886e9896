"""Badges (徽章): honours a community defines, awarded by rule or by an operator, once each.

A rule badge is checked whenever a member's points or referrals change and by a periodic
sweep, which also catches what no event touches (message counts, badges defined later).
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, func, select

from services.common.clock import now
from services.common.contracts.incentives import MemberBadgeAwarded
from services.common.http.problems import not_found
from services.common.ids import new_id
from services.members import problems, publishing
from services.members.community.models import Community, Member, MemberRecord
from services.members.incentives.models import (
    Badge,
    BadgeAward,
    BadgeCreate,
    BadgeRule,
)
from services.members.referrals.models import Referral, ReferralState
from services.members.vocabulary import PRESENT

SWEEP_BATCH = 500


def create_badge(*, session: Session, community: Community, badge_in: BadgeCreate) -> Badge:
    """Define a badge; names are unique in a community."""
    community_id = community.id
    badge = Badge(
        id=new_id("bdg"),
        workspace_id=community.workspace_id,
        community_id=community_id,
        name=badge_in.name.strip(),
        description=badge_in.description,
        rule=badge_in.rule.model_dump(exclude_none=True) if badge_in.rule else None,
    )
    taken = session.exec(
        select(Badge.id).where(Badge.community_id == community_id, Badge.name == badge.name)
    ).first()
    if taken is not None:
        raise problems.BadgeNameTaken(name=badge.name, badge_id=taken)
    session.add(badge)
    session.flush()
    return badge


def get_badge(*, session: Session, community: Community, badge_id: str) -> Badge:
    """The community's badge, or the 404 problem."""
    badge = session.exec(
        select(Badge).where(
            Badge.id == badge_id,
            Badge.community_id == community.id,
            Badge.workspace_id == community.workspace_id,
        )
    ).one_or_none()
    if badge is None:
        raise not_found("badge", badge_id)
    return badge


def badges_query(*, community: Community) -> Any:
    """The community's badges; page them oldest first by `id`."""
    return select(Badge).where(
        Badge.community_id == community.id, Badge.workspace_id == community.workspace_id
    )


def awards_query(*, member: Member) -> Any:
    """The badges a member holds; page them oldest first by (`awarded_at`, `id`)."""
    return select(BadgeAward).where(
        BadgeAward.member_id == member.id, BadgeAward.workspace_id == member.workspace_id
    )


def badges_by_id(*, session: Session, awards: list[BadgeAward]) -> dict[str, Badge]:
    """The badges of some awards (one page's), by id."""
    ids = {a.badge_id for a in awards}
    if not ids:
        return {}
    return {b.id: b for b in session.exec(select(Badge).where(col(Badge.id).in_(ids)))}


def recipient(*, session: Session, community: Community, member_id: str) -> Member:
    """Who a badge given by hand goes to: a present member of the community, or a problem."""
    member = session.exec(
        select(Member).where(
            Member.id == member_id,
            Member.community_id == community.id,
            Member.workspace_id == community.workspace_id,
        )
    ).one_or_none()
    if member is None:
        raise problems.UnknownMember(member_id=member_id)
    if member.status not in PRESENT:
        raise problems.MemberNotCurrent(member_id=member.id, member_status=member.status.value)
    return member


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
    publishing.emit(
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
    conditions: list[sa.ColumnElement[bool]] = [col(Member.status).in_(PRESENT)]
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
    if member.status not in PRESENT:
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


def check_rules_for_all(*, session: Session, members: Sequence[MemberRecord]) -> int:
    """`check_rules` for many members: one read of the rule badges their communities have,
    then one per badge, however many members."""
    present = [m for m in members if m.status in PRESENT]
    if not present:
        return 0
    session.flush()
    badges = session.exec(
        select(Badge)
        .where(
            col(Badge.community_id).in_({m.community_id for m in present}),
            col(Badge.rule).is_not(None),
        )
        .order_by(col(Badge.id))
    ).all()
    awarded = 0
    for badge in badges:
        ids = [m.id for m in present if m.community_id == badge.community_id]
        held = select(BadgeAward.member_id).where(BadgeAward.badge_id == badge.id)
        assert badge.rule is not None
        for member in session.exec(
            select(Member)
            .where(
                col(Member.id).in_(ids),
                col(Member.id).not_in(held),
                *_qualifies(BadgeRule.model_validate(badge.rule)),
            )
            .order_by(col(Member.id))
        ).all():
            _, created = award_badge(
                session=session, badge=badge, member=member, reason="rule", actor="system"
            )
            awarded += created
    return awarded


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


def move_awards(session: Session, *, survivor: Member, merged: Member) -> None:
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
