"""Member records: finding them, joining through the entry threshold, leads, profiles,
identities and status changes. Members belong to one community each (a person in two
communities is two members), so they live with communities. No HTTP here."""

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.common.clock import now
from services.common.contracts import (
    EventData,
    LeadCreated,
    MemberApplied,
    MemberJoined,
    MemberStatusChanged,
    PlatformIdentity,
)
from services.common.http.problems import not_found
from services.common.ids import new_id
from services.members import problems
from services.members.community.entry import admission
from services.members.community.models import (
    Community,
    IdentityIn,
    LeadCreate,
    Member,
    MemberCreate,
    MemberIdentity,
    MemberPublic,
    MemberTransition,
    MemberUpdate,
)
from services.members.community.service import get_community
from services.members.publishing import emit
from services.members.vocabulary import MemberStatus, Platform, Stage

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
    member: Member,
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


def admission_event(*, member: Member, identities: list[PlatformIdentity]) -> EventData:
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


def join_member(
    *, session: Session, workspace_id: str, community_id: str, member_in: MemberCreate
) -> tuple[Member, bool]:
    """Admit someone through the community's entry threshold, or return who they already are.

    Returns the member and whether anything changed (a new member, a lead that joined, a
    removed member back). Banned people cannot come back under any of their identities.
    """
    community = get_community(session=session, workspace_id=workspace_id, community_id=community_id)
    wanted = list(dict.fromkeys((i.platform.value, i.external_id) for i in member_in.identities))
    existing = find_member_by_identity(
        session=session, community_id=community.id, identities=wanted
    )
    if existing is not None and existing.status == MemberStatus.banned:
        raise problems.MemberBanned(member_id=existing.id)
    is_lead = existing is not None and existing.stage == Stage.aware and existing.joined_at is None
    if existing is not None and existing.status != MemberStatus.removed and not is_lead:
        return existing, False
    status, referrer = admission(session=session, community=community, member_in=member_in)
    profile = member_in.model_dump(
        include={"city", "company", "title", "intro", "birthday", "attributes"}, exclude_unset=True
    )
    if existing is not None:  # a lead joining, or a removed member coming back
        member = session.exec(
            select(Member).where(Member.id == existing.id).with_for_update()
        ).one()
        for key, value in profile.items():
            setattr(member, key, value)
        member.display_name = member_in.display_name
        record_transition(
            session=session,
            member=member,
            to_status=status,
            actor="member",
            reason="rejoined" if member.joined_at else "lead joined",
        )
    else:
        member = Member(
            id=new_id("mbr"),
            workspace_id=workspace_id,
            community_id=community.id,
            display_name=member_in.display_name,
            role=member_in.role,
            status=status,
            invite_code="",
            **profile,
        )
        added = add_member(session=session, community=community, member=member, identities=wanted)
        if added is None:
            winner = find_member_by_identity(
                session=session, community_id=community.id, identities=wanted
            )
            if winner is None:
                raise RuntimeError("identity conflict without an owner")
            return winner, False
    if referrer is not None and referrer.id != member.id and member.referred_by is None:
        member.referred_by = referrer.id
    member.entry_answers = member_in.answers
    member.payment_reference = member_in.payment_reference
    if status != MemberStatus.pending:
        member.joined_at = now()
        if member.stage == Stage.aware:
            member.stage = Stage.joined
    session.add(member)
    session.flush()
    announce_admission(session=session, member=member)
    return member, True


def create_lead(
    *, session: Session, workspace_id: str, community_id: str, lead_in: LeadCreate
) -> tuple[Member, bool]:
    """Record a prospect (stage `aware`) before they join; a known identity returns its owner."""
    community = get_community(session=session, workspace_id=workspace_id, community_id=community_id)
    wanted = list(dict.fromkeys((i.platform.value, i.external_id) for i in lead_in.identities))
    existing = find_member_by_identity(
        session=session, community_id=community.id, identities=wanted
    )
    if existing is not None:
        return existing, False
    profile = lead_in.model_dump(
        include={"city", "company", "title", "intro", "birthday", "attributes"}, exclude_unset=True
    )
    lead = Member(
        id=new_id("mbr"),
        workspace_id=workspace_id,
        community_id=community.id,
        display_name=lead_in.display_name,
        status=MemberStatus.pending,
        stage=Stage.aware,
        lead_source=lead_in.source,
        invite_code="",
        **profile,
    )
    added = add_member(session=session, community=community, member=lead, identities=wanted)
    if added is None:
        winner = find_member_by_identity(
            session=session, community_id=community.id, identities=wanted
        )
        assert winner is not None
        return winner, False
    emit(
        session,
        LeadCreated(
            member_id=lead.id,
            community_id=community.id,
            source=lead.lead_source,
            created_at=lead.created_at,
        ),
        member=lead,
        community_id=community.id,
        workspace_id=workspace_id,
    )
    return lead, True


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
