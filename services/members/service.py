"""Communities and members: creating, finding, joining, leads and profiles. No HTTP here.

Functions take keyword arguments and don't commit: the caller owns the transaction, so a
change and its outbox events commit together.
"""

import secrets
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.common import outbox
from services.common.contracts import (
    CommunityCreated,
    EventData,
    LeadCreated,
    MemberApplied,
    MemberJoined,
    MemberStatusChanged,
    PlatformIdentity,
)
from services.common.http.problems import Problem, field_problem, not_found
from services.common.ids import new_id
from services.members.community_settings import (
    CommunitySettings,
    defaults_for,
    merge_settings,
)
from services.members.entry import admission
from services.members.models import (
    Community,
    CommunityCreate,
    CommunityUpdate,
    IdentityIn,
    LeadCreate,
    Member,
    MemberCreate,
    MemberIdentity,
    MemberPublic,
    MemberStatus,
    MemberTransition,
    MemberUpdate,
    Platform,
    Stage,
    now,
)

SOURCE = "/qunyun/members"
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud in a group chat


def emit(
    session: Session,
    data: EventData,
    *,
    member: Member | None = None,
    community_id: str,
    workspace_id: str,
) -> None:
    """Put one of this service's events in the outbox, keyed by its community."""
    outbox.emit(
        session,
        data,
        source=SOURCE,
        workspace_id=workspace_id,
        community_id=community_id,
        subject=member.id if member else community_id,
    )


# ---- communities -------------------------------------------------------------------------


def _validated_settings(purpose: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
    merged = merge_settings(defaults_for(purpose).model_dump(mode="json"), overrides or {})
    try:
        return CommunitySettings.model_validate(merged).model_dump(mode="json")
    except ValidationError as exc:
        errors = [
            {
                "field": "settings." + ".".join(str(p) for p in e["loc"]),
                "in": "body",
                "message": e["msg"],
                "code": e["type"],
            }
            for e in exc.errors()
        ]
        raise Problem(
            422,
            "validation-error",
            "The request is not valid",
            "Some settings are not valid.",
            errors=errors,
        ) from exc


def create_community(
    *, session: Session, workspace_id: str, community_in: CommunityCreate
) -> Community:
    """Create a community with its purpose's default settings and announce it."""
    community = Community(
        id=new_id("cmt"),
        workspace_id=workspace_id,
        name=community_in.name,
        purpose=community_in.purpose,
        timezone=community_in.timezone,
        description=community_in.description,
        settings=_validated_settings(community_in.purpose, community_in.settings),
    )
    session.add(community)
    session.flush()
    emit(
        session,
        CommunityCreated(
            community_id=community.id,
            name=community.name,
            purpose=community.purpose,
            timezone=community.timezone,
            created_at=community.created_at,
        ),
        community_id=community.id,
        workspace_id=workspace_id,
    )
    return community


def get_community(
    *, session: Session, workspace_id: str, community_id: str, for_update: bool = False
) -> Community:
    """The community, or a 404 problem; another workspace's community is not found either.

    Without a lock it is read once per session: the handlers of one event each ask for it.
    (The identity map alone would not do: it holds objects weakly, and a handler's community
    is gone once the handler returns.)"""
    known: dict[str, Community] = session.info.setdefault("communities", {})
    community = known.get(community_id) if not for_update else None
    if community is None:
        community = session.get(Community, community_id, with_for_update=for_update or None)
        if community is not None:
            known[community_id] = community
    if community is None or community.workspace_id != workspace_id:
        raise not_found("community", community_id)
    return community


def list_communities(*, session: Session, workspace_id: str) -> Any:
    return select(Community).where(Community.workspace_id == workspace_id)


def update_community(
    *, session: Session, community: Community, update: CommunityUpdate
) -> Community:
    for key, value in update.model_dump(exclude_unset=True).items():
        if value is None:
            raise field_problem(key, f"{key} cannot be null")
        setattr(community, key, value)
    session.add(community)
    return community


def update_settings(
    *, session: Session, community: Community, patch: dict[str, Any]
) -> CommunitySettings:
    """Lay `patch` over the current settings, section by section, and validate the result."""
    community.settings = _validated_settings(
        community.purpose, merge_settings(community.settings, patch)
    )
    session.add(community)
    return community.rules()


# ---- members -----------------------------------------------------------------------------


def get_member(
    *,
    session: Session,
    workspace_id: str,
    community_id: str,
    member_id: str,
    for_update: bool = False,
) -> Member:
    query = select(Member).where(
        Member.id == member_id,
        Member.community_id == community_id,
        Member.workspace_id == workspace_id,
    )
    member = session.exec(query.with_for_update() if for_update else query).one_or_none()
    if member is None:
        raise not_found("member", member_id)
    return member


def identities_of(*, session: Session, member_id: str) -> list[PlatformIdentity]:
    rows = session.exec(
        select(MemberIdentity)
        .where(MemberIdentity.member_id == member_id)
        .order_by(col(MemberIdentity.id))
    )
    return [PlatformIdentity(platform=i.platform, external_id=i.external_id) for i in rows]


def member_public(*, session: Session, member: Member) -> MemberPublic:
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
    session.add_all([member, transition])
    emit(
        session,
        MemberStatusChanged(
            member_id=member.id,
            community_id=member.community_id,
            from_status=transition.from_status,
            to_status=to_status,
            actor=actor,
            reason=reason,
            until=until,
            identities=identities_of(session=session, member_id=member.id),
            changed_at=transition.at,
        ),
        member=member,
        community_id=member.community_id,
        workspace_id=member.workspace_id,
    )
    return transition


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


def _new_invite_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


def announce_admission(*, session: Session, member: Member) -> None:
    """The event for a member who is now in (or asked to be): joined, or applied."""
    identities = identities_of(session=session, member_id=member.id)
    if member.status == MemberStatus.pending:
        data: EventData = MemberApplied(
            member_id=member.id,
            community_id=member.community_id,
            display_name=member.display_name,
            identities=identities,
            applied_at=member.created_at,
        )
    else:
        assert member.joined_at is not None
        data = MemberJoined(
            member_id=member.id,
            community_id=member.community_id,
            display_name=member.display_name,
            identities=identities,
            joined_at=member.joined_at,
            referred_by=member.referred_by,
            role=member.role,
        )
    emit(
        session,
        data,
        member=member,
        community_id=member.community_id,
        workspace_id=member.workspace_id,
    )


def add_member(
    *, session: Session, community: Community, member: Member, identities: list[tuple[str, str]]
) -> Member | None:
    """Insert the member and its identities; None if another join took an identity first."""
    for _ in range(5):
        member.invite_code = _new_invite_code()
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
        raise Problem(
            409,
            "member-banned",
            "Member banned",
            "This person is banned from the community and cannot rejoin.",
            member_id=existing.id,
        )
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
    changes = update.model_dump(exclude_unset=True)
    if changes.get("display_name", "") is None:
        raise field_problem("display_name", "display_name cannot be null")
    if "attributes" in changes and changes["attributes"] is not None:
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
