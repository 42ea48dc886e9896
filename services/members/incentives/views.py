"""Incentives: points adjusted by hand and the ledger, levels, badges, the leaderboard."""

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse
from sqlmodel import col

from services.common.clock import now
from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import ActorDep
from services.common.http.pagination import (
    Page,
    Paging,
    desc,
    paginate,
)
from services.common.http.schemas import DIGITS
from services.common.ids import new_id
from services.members.community import members
from services.members.community import service as communities
from services.members.deps import CommunityDep, MemberDep, located
from services.members.incentives import badges, service
from services.members.incentives.leaderboard import standings
from services.members.incentives.models import (
    AdjustmentIn,
    AdjustmentPublic,
    AwardCreate,
    AwardPublic,
    Badge,
    BadgeAward,
    BadgeCreate,
    BadgePublic,
    EntryPublic,
    Leaderboard,
    LedgerPage,
    Period,
    PointsEntry,
    RecomputeResult,
)

router = APIRouter(prefix="/v1/communities/{community_id}")


def _badge_public(badge: Badge) -> BadgePublic:
    return BadgePublic.model_validate(badge, from_attributes=True)


def _award_public(award: BadgeAward, badge: Badge) -> AwardPublic:
    return AwardPublic(
        **award.model_dump(exclude={"workspace_id", "community_id"}), badge_name=badge.name
    )


@router.post(
    "/members/{member_id}/points",
    status_code=status.HTTP_201_CREATED,
    response_model=AdjustmentPublic,
    responses={422: {"description": "Out of range, or below zero (`insufficient-points`)."}},
    tags=["points"],
)
def adjust_points(
    community: CommunityDep,
    member_id: str,
    body: AdjustmentIn,
    session: SessionDep,
    actor: ActorDep,
    once: OnceDep,
) -> JSONResponse:
    """Add or take away points by hand, with a reason; send an Idempotency-Key to retry safely."""

    def create() -> tuple[int, AdjustmentPublic]:
        member = members.get_member(
            session=session,
            workspace_id=community.workspace_id,
            community_id=community.id,
            member_id=member_id,
            for_update=True,
        )
        entry = service.adjust(
            session=session,
            member=member,
            amount=body.amount,
            note=body.reason,
            actor=actor,
            source_id=f"key:{once.key}" if once.key else new_id("adj"),
        )
        public = EntryPublic.model_validate(entry, from_attributes=True)
        return 201, AdjustmentPublic(entry=public, total=member.points, level=member.level)

    # An entry is read in the member's ledger.
    return located(
        once.run(body, create), f"/v1/communities/{community.id}/members/{member_id}/points"
    )


@router.get("/members/{member_id}/points", response_model=LedgerPage, tags=["points"])
def ledger(
    community: CommunityDep, member: MemberDep, session: SessionDep, paging: Paging
) -> LedgerPage:
    """A member's total, level and ledger, newest entry first."""
    query = service.ledger_query(member=member)
    rows, cursor = paginate(session, query, desc(col(PointsEntry.id)), paging)
    higher = [t for t in community.rules().levels.thresholds if t > member.points]
    return LedgerPage(
        member_id=member.id,
        total=member.points,
        level=member.level,
        next_level_at=higher[0] if higher else None,
        data=[EntryPublic.model_validate(e, from_attributes=True) for e in rows],
        next_cursor=cursor,
    )


@router.post("/levels/recompute", response_model=RecomputeResult, tags=["levels"])
def recompute_levels(community: CommunityDep, session: SessionDep) -> RecomputeResult:
    """Re-level every member by the community's current thresholds (after changing them)."""
    community = communities.get_community(
        session=session,
        workspace_id=community.workspace_id,
        community_id=community.id,
        for_update=True,
    )
    result = service.recompute_levels(
        session=session, community_id=community.id, thresholds=community.rules().levels.thresholds
    )
    session.commit()
    return result


@router.post(
    "/badges",
    status_code=status.HTTP_201_CREATED,
    response_model=BadgePublic,
    responses={409: {"description": "A badge with this name exists (`badge-name-taken`)."}},
    tags=["badges"],
)
def create_badge(
    community: CommunityDep, body: BadgeCreate, session: SessionDep, once: OnceDep
) -> JSONResponse:
    """Define a badge; with a `rule` it is awarded by itself to every member who qualifies."""

    def create() -> tuple[int, BadgePublic]:
        badge = badges.create_badge(session=session, community=community, badge_in=body)
        return 201, _badge_public(badge)

    return located(once.run(body, create), f"/v1/communities/{community.id}/badges/{{id}}")


@router.get("/badges/{badge_id}", response_model=BadgePublic, tags=["badges"])
def get_badge(community: CommunityDep, badge_id: str, session: SessionDep) -> BadgePublic:
    return _badge_public(badges.get_badge(session=session, community=community, badge_id=badge_id))


@router.get("/badges", response_model=Page[BadgePublic], tags=["badges"])
def list_badges(community: CommunityDep, session: SessionDep, paging: Paging) -> Page[BadgePublic]:
    """The community's badges, oldest first."""
    rows, cursor = paginate(
        session, badges.badges_query(community=community), col(Badge.id), paging
    )
    return Page(data=[_badge_public(b) for b in rows], next_cursor=cursor)


@router.post(
    "/badges/{badge_id}/awards",
    status_code=status.HTTP_201_CREATED,
    response_model=AwardPublic,
    responses={
        200: {"model": AwardPublic, "description": "The member holds it already; nothing changes."},
        409: {"description": "The member is not a current member (`member-not-current`)."},
    },
    tags=["badges"],
)
def award_badge(
    community: CommunityDep,
    badge_id: str,
    body: AwardCreate,
    session: SessionDep,
    actor: ActorDep,
    once: OnceDep,
) -> JSONResponse:
    """Award a badge by hand; a member holds each badge once."""

    def create() -> tuple[int, AwardPublic]:
        badge = badges.get_badge(session=session, community=community, badge_id=badge_id)
        member = badges.recipient(session=session, community=community, member_id=body.member_id)
        award, created = badges.award_badge(
            session=session, badge=badge, member=member, reason=body.reason, actor=actor
        )
        return (201 if created else 200), _award_public(award, badge)

    return located(
        once.run(body, create), f"/v1/communities/{community.id}/members/{body.member_id}/badges"
    )


@router.get("/members/{member_id}/badges", response_model=Page[AwardPublic], tags=["badges"])
def member_badges(member: MemberDep, session: SessionDep, paging: Paging) -> Page[AwardPublic]:
    """The badges a member holds, oldest first."""
    rows, cursor = paginate(
        session,
        badges.awards_query(member=member),
        (col(BadgeAward.awarded_at), col(BadgeAward.id)),
        paging,
    )
    held = badges.badges_by_id(session=session, awards=rows)
    return Page(data=[_award_public(a, held[a.badge_id]) for a in rows], next_cursor=cursor)


@router.get("/leaderboard", response_model=Leaderboard, tags=["leaderboards"])
def leaderboard(
    community: CommunityDep,
    session: SessionDep,
    period: Period = Period.week,
    limit: Annotated[int, Query(ge=1, le=100), DIGITS] = 10,
) -> Leaderboard:
    """Current (active or muted) members ranked by points earned in the period: `7d` and `30d`
    sum the ledger over whole days in the community's timezone, `all` is the member's total."""
    return standings(session=session, community=community, period=period, limit=limit, at=now())
