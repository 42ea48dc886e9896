"""Members' domain logic: no HTTP here. Functions take keyword arguments and don't commit;
the caller owns the transaction so that the change and its outbox events commit together."""

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.common import outbox
from services.common.contracts import CommunityCreated, MemberJoined
from services.common.contracts.members import PlatformIdentity
from services.common.http.problems import not_found
from services.common.ids import new_id
from services.members.models import (
    Community,
    CommunityCreate,
    Member,
    MemberCreate,
    MemberIdentity,
    MemberPublic,
)

SOURCE = "/qunyun/members"


def create_community(
    *, session: Session, workspace_id: str, community_in: CommunityCreate
) -> Community:
    """Create a community and announce it."""
    community = Community.model_validate(
        community_in, update={"id": new_id("cmt"), "workspace_id": workspace_id}
    )
    session.add(community)
    session.flush()
    outbox.emit(
        session,
        CommunityCreated(
            community_id=community.id,
            name=community.name,
            purpose=community.purpose,
            timezone=community.timezone,
            created_at=community.created_at,
        ),
        source=SOURCE,
        workspace_id=workspace_id,
        community_id=community.id,
        subject=community.id,
    )
    return community


def get_community(*, session: Session, workspace_id: str, community_id: str) -> Community:
    """The community, or a 404 problem; another workspace's community is not found either."""
    community = session.exec(
        select(Community).where(
            Community.id == community_id, Community.workspace_id == workspace_id
        )
    ).one_or_none()
    if community is None:
        raise not_found("community", community_id)
    return community


def member_public(*, session: Session, member: Member) -> MemberPublic:
    identities = session.exec(
        select(MemberIdentity)
        .where(MemberIdentity.member_id == member.id)
        .order_by(col(MemberIdentity.id))
    )
    return MemberPublic(
        **member.model_dump(),
        identities=[{"platform": i.platform, "external_id": i.external_id} for i in identities],
    )


def find_member_by_identity(
    *, session: Session, community_id: str, identities: list[tuple[str, str]]
) -> Member | None:
    """The member who owns any of these platform identities in the community."""
    for platform, external_id in identities:
        member = session.exec(
            select(Member)
            .join(MemberIdentity, col(MemberIdentity.member_id) == Member.id)
            .where(
                MemberIdentity.community_id == community_id,
                MemberIdentity.platform == platform,
                MemberIdentity.external_id == external_id,
            )
        ).one_or_none()
        if member is not None:
            return member
    return None


def join_member(
    *, session: Session, workspace_id: str, community_id: str, member_in: MemberCreate
) -> tuple[Member, bool]:
    """Add a member, or return the one who already holds one of the identities.

    Returns the member and whether it is new. A concurrent join with the same identity loses
    the race on the unique constraint and returns the winner.
    """
    community = get_community(session=session, workspace_id=workspace_id, community_id=community_id)
    wanted = list(dict.fromkeys((i.platform.value, i.external_id) for i in member_in.identities))
    existing = find_member_by_identity(
        session=session, community_id=community.id, identities=wanted
    )
    if existing is not None:
        return existing, False
    member = Member(
        id=new_id("mbr"),
        workspace_id=workspace_id,
        community_id=community.id,
        display_name=member_in.display_name,
    )
    try:
        with session.begin_nested():
            session.add(member)
            session.flush()
            for platform, external_id in wanted:
                session.add(
                    MemberIdentity(
                        id=new_id("idn"),
                        workspace_id=workspace_id,
                        community_id=community.id,
                        member_id=member.id,
                        platform=platform,
                        external_id=external_id,
                    )
                )
            session.flush()
    except IntegrityError:
        winner = find_member_by_identity(
            session=session, community_id=community.id, identities=wanted
        )
        if winner is None:
            raise
        return winner, False
    outbox.emit(
        session,
        MemberJoined(
            member_id=member.id,
            community_id=community.id,
            display_name=member.display_name,
            identities=[PlatformIdentity(platform=p, external_id=e) for p, e in wanted],
            joined_at=member.joined_at,
        ),
        source=SOURCE,
        workspace_id=workspace_id,
        community_id=community.id,
        subject=member.id,
    )
    return member, True
