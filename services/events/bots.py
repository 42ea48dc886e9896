"""What a bot's push is about, and how a refusal goes back to it. Bots name groups and people
by platform ids; the replica turns them into the community and the member. A request the
domain refuses (not eligible, closed, already done) is answered with an event the bot relays
to the member, since nobody waits on the HTTP answer of a push."""

from datetime import UTC, datetime

from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.contracts import InboundRequestRefused
from services.common.contracts.ingest import GroupActivity
from services.events.problems import NotEligible, Problem, not_found
from services.events.publishing import publish
from services.events.replica.models import Community, Member
from services.events.replica.service import group_by_platform_id, member_by_identity


def sender_of(session: Session, event: CloudEvent, data: GroupActivity) -> tuple[Community, Member]:
    """The community of the group and the member who sent the push; a Problem if unknown."""
    group = group_by_platform_id(
        session,
        workspace_id=event.workspaceid,
        platform=data.platform,
        external_id=data.group_external_id,
    )
    community = session.get(Community, group.community_id) if group else None
    if group is None or community is None:
        raise not_found("group", f"{data.platform}:{data.group_external_id}")
    member = member_by_identity(
        session, community=community, platform=data.platform, external_id=data.sender_external_id
    )
    if member is None:
        raise NotEligible(
            condition="not-a-member", reason="The sender is not a member of this community."
        )
    return community, member


def refuse(
    session: Session,
    event: CloudEvent,
    data: GroupActivity,
    *,
    request: str,
    problem: Problem,
    community: Community | None,
    member: Member | None,
) -> None:
    publish(
        session,
        InboundRequestRefused(
            request_event_id=event.id,
            request=request,
            community_id=community.id if community else None,
            member_id=member.id if member else None,
            platform=data.platform,
            group_external_id=data.group_external_id,
            sender_external_id=data.sender_external_id,
            reason=str(problem.extra.get("condition") or problem.slug),
            detail=problem.detail or problem.title,
            refused_at=datetime.now(UTC),
        ),
        workspace_id=event.workspaceid,
        community_id=community.id if community else event.workspaceid,
        subject=member.id if member else None,
    )
