"""Reads of the replica: the community, the member and the sender of a bot's push, each
scoped to the caller's workspace."""

from sqlmodel import Session, col, select

from services.events.problems import not_found
from services.events.replica.models import ChatGroup, Community, Member, MemberIdentity


def community_of(session: Session, *, workspace_id: str, community_id: str) -> Community:
    """The community, or a 404 (also when it belongs to another workspace)."""
    community = session.get(Community, community_id)
    if community is None or community.workspace_id != workspace_id:
        raise not_found("community", community_id)
    return community


def member_in(session: Session, *, community: Community, member_id: str) -> Member | None:
    """The member of this community by id, following merges to the survivor."""
    seen = 0
    member = session.get(Member, member_id)
    while member is not None and member.merged_into and seen < 10:
        member, seen = session.get(Member, member.merged_into), seen + 1
    if member is None or member.community_id != community.id:
        return None
    return member


def required_member(session: Session, *, community: Community, member_id: str) -> Member:
    member = member_in(session, community=community, member_id=member_id)
    if member is None:
        raise not_found("member", member_id)
    return member


def group_by_platform_id(
    session: Session, *, workspace_id: str, platform: str, external_id: str
) -> ChatGroup | None:
    return session.exec(
        select(ChatGroup).where(
            ChatGroup.workspace_id == workspace_id,
            ChatGroup.platform == platform,
            ChatGroup.external_id == external_id,
        )
    ).first()


def member_by_identity(
    session: Session, *, community: Community, platform: str, external_id: str
) -> Member | None:
    identity = session.get(MemberIdentity, (community.id, platform, external_id))
    if identity is None:
        return None
    return member_in(session, community=community, member_id=identity.member_id)


def identities_of(session: Session, *, member: Member) -> list[tuple[str, str]]:
    rows = session.exec(
        select(MemberIdentity.platform, MemberIdentity.external_id)
        .where(MemberIdentity.member_id == member.id)
        .order_by(col(MemberIdentity.platform), col(MemberIdentity.external_id))
    ).all()
    return [(p, e) for p, e in rows]
