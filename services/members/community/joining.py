"""Coming in: joining through the community's entry threshold (or coming back), and leads
recorded before they join. No HTTP here."""

from sqlmodel import Session, select

from services.common.clock import now
from services.common.contracts import LeadCreated
from services.common.ids import new_id
from services.members import problems
from services.members.community.entry import admission
from services.members.community.members import (
    add_member,
    announce_admission,
    find_member_by_identity,
    record_transition,
)
from services.members.community.models import LeadCreate, Member, MemberCreate
from services.members.community.service import get_community
from services.members.publishing import emit
from services.members.vocabulary import MemberStatus, Stage


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
