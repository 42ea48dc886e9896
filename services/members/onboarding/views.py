"""Onboarding: the joining ritual, the chase list, and the rules members acknowledge."""

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
from services.members.community import members
from services.members.community.models import Member, MemberPublic
from services.members.deps import CommunityDep, MemberDep, located
from services.members.onboarding import rules, service
from services.members.onboarding.models import (
    AcknowledgementIn,
    AcknowledgementPublic,
    OnboardingIn,
    OnboardingStatus,
    RulesIn,
    RulesPublic,
    RulesVersion,
    UnfinishedMember,
)

router = APIRouter(prefix="/v1/communities/{community_id}")


@router.post(
    "/members/{member_id}/onboarding",
    response_model=OnboardingStatus,
    responses={409: {"description": "The member is not in the community (`member-not-present`)."}},
    tags=["onboarding"],
)
def record_onboarding(
    community: CommunityDep,
    member_id: str,
    body: OnboardingIn,
    session: SessionDep,
) -> OnboardingStatus:
    """Record part or all of the joining ritual. Always 200 with what is still `missing`; the
    call that completes it emits `member.onboarded`."""
    member = members.get_member(
        session=session,
        workspace_id=community.workspace_id,
        community_id=community.id,
        member_id=member_id,
        for_update=True,
    )
    result = service.record(session=session, member=member, step=body)
    session.commit()
    return result


@router.get(
    "/members/{member_id}/onboarding",
    response_model=OnboardingStatus,
    tags=["onboarding"],
)
def get_onboarding(member: MemberDep, session: SessionDep) -> OnboardingStatus:
    """Whether the member finished the ritual, and what is missing if not."""
    return service.status_of(session=session, member=member)


@router.get(
    "/onboarding/unfinished",
    response_model=Page[UnfinishedMember],
    tags=["onboarding"],
)
def list_unfinished(
    community: CommunityDep,
    session: SessionDep,
    paging: Paging,
    older_than_hours: Annotated[
        int | None,
        Query(ge=0, le=24 * 3650, description="Default: the community's `chase_after_hours`."),
        DIGITS,
    ] = None,
) -> Page[UnfinishedMember]:
    """Members who joined more than `older_than_hours` ago and have not finished, oldest first."""
    return service.unfinished(
        session=session,
        workspace_id=community.workspace_id,
        community_id=community.id,
        older_than_hours=older_than_hours,
        paging=paging,
        at=now(),
    )


def _public(rules: RulesVersion) -> RulesPublic:
    return RulesPublic.model_validate(rules, from_attributes=True)


@router.post(
    "/rules",
    status_code=status.HTTP_201_CREATED,
    response_model=RulesPublic,
    tags=["rules"],
)
def publish_rules(
    community: CommunityDep,
    body: RulesIn,
    session: SessionDep,
    actor: ActorDep,
    once: OnceDep,
) -> JSONResponse:
    """Publish a new version of the rules; emits `community.rules_published` for bots to pin."""

    def create() -> tuple[int, RulesPublic]:
        return 201, _public(
            rules.publish(session=session, community=community, text=body.text, actor=actor)
        )

    # The version just published is the current one.
    return located(once.run(body, create), f"/v1/communities/{community.id}/rules/current")


@router.get("/rules", response_model=Page[RulesPublic], tags=["rules"])
def list_rules(community: CommunityDep, session: SessionDep, paging: Paging) -> Page[RulesPublic]:
    """Every version, newest first."""
    query = rules.versions_query(community=community)
    rows, cursor = paginate(session, query, desc(col(RulesVersion.version)), paging)
    return Page(data=[_public(r) for r in rows], next_cursor=cursor)


@router.get("/rules/current", response_model=RulesPublic, tags=["rules"])
def current_rules(community: CommunityDep, session: SessionDep) -> RulesPublic:
    """The version in force; a 404 `no-rules` before the first one is published."""
    return _public(rules.in_force(session=session, community=community))


@router.get(
    "/rules/current/unacknowledged",
    response_model=Page[MemberPublic],
    tags=["rules"],
)
def unacknowledged(
    community: CommunityDep, session: SessionDep, paging: Paging
) -> Page[MemberPublic]:
    """Active and muted members who have not acknowledged the current version: whom to remind."""
    latest = rules.in_force(session=session, community=community)
    rows, cursor = paginate(
        session,
        rules.unacknowledged_query(community=community, version=latest.version),
        col(Member.id),
        paging,
    )
    return Page(
        data=[members.member_public(session=session, member=m) for m in rows], next_cursor=cursor
    )


@router.post(
    "/members/{member_id}/rules-acknowledgements",
    response_model=AcknowledgementPublic,
    responses={
        409: {"description": "The member is not in the community (removed, banned, merged)."}
    },
    tags=["rules"],
)
def acknowledge_rules(
    member: MemberDep, body: AcknowledgementIn, session: SessionDep
) -> AcknowledgementPublic:
    """Record that a member read a rules version. An older version is recorded too, but only
    the current one counts; repeating it is harmless and keeps the first time."""
    ack, is_current = service.acknowledge_rules(
        session=session, member=member, version=body.version
    )
    session.commit()
    return AcknowledgementPublic(
        member_id=member.id,
        version=ack.version,
        acknowledged_at=ack.acknowledged_at,
        is_current=is_current,
    )
