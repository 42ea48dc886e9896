"""Member records: finding them, adding them, profiles, identities and status changes; who
comes in, through the entry threshold or as a lead, is `joining.py`. Members belong to one
community each (a person in two communities is two members), so they live with communities.
No HTTP here."""

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.common.contracts import (
    EventData,
    MemberApplied,
    MemberJoined,
    MemberStatusChanged,
    PlatformIdentity,
)
from services.common.http.problems import not_found
from services.common.ids import new_id
from services.members import problems
from services.members.community.models import (
    Community,
    IdentityIn,
    Member,
    MemberIdentity,
    MemberPublic,
    MemberRecord,
    MemberTransition,
    MemberUpdate,
)
from services.members.publishing import emit
from services.members.vocabulary import MemberStatus, Platform

_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud in a group chat


def get_member(
    *,
    session: Session,
    workspace_id: str,
    community_id: str,
    member_id: str,
    for_update: bool = False,
) -> Member:
    """The community's member, merged-away ones too, or the 404 problem."""
    query = select(Member).where(
        Member.id == member_id,
        Member.community_id == community_id,
        Member.workspace_id == workspace_id,
    )
    member = session.exec(query.with_for_update() if for_update else query).one_or_none()
    if member is None:
        raise not_found("member", member_id)
    return member


def member_to_change(*, session: Session, community: Community, member_id: str) -> Member:
    """The community's member, locked for a change; a merged-away member is a 409 problem
    naming the survivor, who is the one to change."""
    member = get_member(
        session=session,
        workspace_id=community.workspace_id,
        community_id=community.id,
        member_id=member_id,
        for_update=True,
    )
    refuse_merged(member)
    return member


def refuse_merged(member: Member) -> None:
    """A merged-away member takes no changes: the 409 problem naming the survivor."""
    if member.status == MemberStatus.merged:
        raise problems.MemberMerged(member_id=member.id, merged_into=member.merged_into or "")


def identities_of(*, session: Session, member_id: str) -> list[PlatformIdentity]:
    """The member's platform identities, oldest first."""
    rows = session.exec(
        select(MemberIdentity)
        .where(MemberIdentity.member_id == member_id)
        .order_by(col(MemberIdentity.id))
    )
    return [PlatformIdentity(platform=i.platform, external_id=i.external_id) for i in rows]


def member_public(*, session: Session, member: Member) -> MemberPublic:
    """The member as the API shows it, with their identities."""
    identities = identities_of(session=session, member_id=member.id)
    return MemberPublic(
        **member.model_dump(),
        identities=[IdentityIn.model_validate(i.model_dump()) for i in identities],
    )


def record_transition(
    *,
    session: Session,
    member: Member,
    to_status: MemberStatus,
    actor: str,
    reason: str | None,
    until: datetime | None = None,
) -> MemberTransition:
    """Change a member's status, keep it in the history, and tell the other services and bots."""
    identities = identities_of(session=session, member_id=member.id)
    transition, changed = status_change(member, to_status, actor, reason, until, identities)
    session.add_all([member, transition])
    emit(
        session,
        changed,
        member=member,
        community_id=member.community_id,
        workspace_id=member.workspace_id,
    )
    return transition


def status_change(
    member: MemberRecord,
    to_status: MemberStatus,
    actor: str,
    reason: str | None,
    until: datetime | None,
    identities: list[PlatformIdentity],
) -> tuple[MemberTransition, MemberStatusChanged]:
    """Change `member`'s status in memory: the transition to record and the event to announce
    (the caller writes both; a batch writes many at once)."""
    transition = MemberTransition(
        id=new_id("trn"),
        workspace_id=member.workspace_id,
        community_id=member.community_id,
        member_id=member.id,
        from_status=member.status,
        to_status=to_status,
        actor=actor,
        reason=reason,
        until=until,
    )
    member.status = to_status
    member.muted_until = until if to_status == MemberStatus.muted else None
    return transition, MemberStatusChanged(
        member_id=member.id,
        community_id=member.community_id,
        from_status=transition.from_status,
        to_status=to_status,
        actor=actor,
        reason=reason,
        until=until,
        identities=identities,
        changed_at=transition.at,
    )


def find_member_by_identity(
    *, session: Session, community_id: str, identities: list[tuple[str, str]]
) -> Member | None:
    """The member who owns any of these platform identities in the community.

    Identities owned by two members are a 409 naming both: picking one would attach the
    person's profile, referral and entry to whichever came first (merge them instead).
    """
    owners: dict[str, Member] = {}
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
            owners.setdefault(member.id, member)
    if len(owners) > 1:
        raise problems.IdentitiesOfDifferentMembers(member_ids=list(owners))
    return next(iter(owners.values()), None)


def new_invite_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


def announce_admission(*, session: Session, member: Member) -> None:
    """The event for a member who is now in (or asked to be): joined, or applied."""
    identities = identities_of(session=session, member_id=member.id)
    emit(
        session,
        admission_event(member=member, identities=identities),
        member=member,
        community_id=member.community_id,
        workspace_id=member.workspace_id,
    )


def admission_event(*, member: MemberRecord, identities: list[PlatformIdentity]) -> EventData:
    """What `announce_admission` announces, for a member whose identities the caller knows."""
    if member.status == MemberStatus.pending:
        return MemberApplied(
            member_id=member.id,
            community_id=member.community_id,
            display_name=member.display_name,
            identities=identities,
            applied_at=member.created_at,
        )
    assert member.joined_at is not None
    return MemberJoined(
        member_id=member.id,
        community_id=member.community_id,
        display_name=member.display_name,
        identities=identities,
        joined_at=member.joined_at,
        referred_by=member.referred_by,
        role=member.role,
    )


def add_member(
    *, session: Session, community: Community, member: Member, identities: list[tuple[str, str]]
) -> Member | None:
    """Insert the member and its identities; None if another join took an identity first."""
    for _ in range(5):
        member.invite_code = new_invite_code()
        try:
            with session.begin_nested():
                session.add(member)
                session.flush()
                for platform, external_id in identities:
                    session.add(
                        MemberIdentity(
                            id=new_id("idn"),
                            workspace_id=community.workspace_id,
                            community_id=community.id,
                            member_id=member.id,
                            platform=Platform(platform),
                            external_id=external_id,
                        )
                    )
                session.flush()
            return member
        except IntegrityError as exc:
            if "invite_code" not in str(exc.orig):
                return None  # an identity is taken: a concurrent join won
    raise RuntimeError("could not find a free invite code")


def update_member(*, session: Session, member: Member, update: MemberUpdate) -> Member:
    """Change profile fields, role or attributes (merged by name)."""
    changes = update.model_dump(exclude_unset=True)
    if "attributes" in changes:
        changes["attributes"] = {**member.attributes, **changes["attributes"]}
    for key, value in changes.items():
        setattr(member, key, value)
    session.add(member)
    return member


def members_query(
    *,
    workspace_id: str,
    community_id: str,
    status: str | None = None,
    role: str | None = None,
    stage: str | None = None,
) -> Any:
    """The community's members but the merged-away, narrowed by status, role and stage."""
    query = select(Member).where(
        Member.workspace_id == workspace_id,
        Member.community_id == community_id,
        Member.status != MemberStatus.merged,
    )
    if status:
        query = query.where(Member.status == status)
    if role:
        query = query.where(Member.role == role)
    if stage:
        query = query.where(Member.stage == stage)
    return query
