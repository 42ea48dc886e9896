"""Onboarding: the joining ritual (DOMAIN.md rule 4) and who has not finished it.

A newcomer introduces themself (city, company, title, what they do, why they joined) and
reads the rules; which of these a community requires is in `OnboardingSettings`. Progress
is saved piece by piece: each call says what is still missing, and the call that completes
the ritual sets `member.onboarded_at` (once) and announces `member.onboarded`. The reason
for joining is kept here rather than on the member: it is part of the ritual, not a profile.
"""

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from services.common.clock import now
from services.common.contracts.onboarding import MemberOnboarded
from services.common.http.pagination import Page, PageParams, paginate
from services.members import publishing, vocabulary
from services.members.community import service
from services.members.community.models import Member
from services.members.community.settings import OnboardingSettings
from services.members.onboarding import models, rules
from services.members.onboarding.models import (
    MemberOnboarding,
    OnboardingIn,
    OnboardingStatus,
    UnfinishedMember,
)

RULES_ITEM = "rules_acknowledgement"


def _progress(session: Session, member: Member) -> MemberOnboarding | None:
    return session.get(MemberOnboarding, member.id)


def missing_from(
    *, settings: OnboardingSettings, given: dict[str, str | None], read_current_rules: bool
) -> list[str]:
    """What is still required, in the settings' order; blank answers count as not given."""
    missing: list[str] = [
        f for f in settings.required_intro_fields if not (given.get(f) or "").strip()
    ]
    if settings.require_rules_acknowledgement and not read_current_rules:
        missing.append(RULES_ITEM)
    return missing


def _given(member: Member, reason: str | None) -> dict[str, str | None]:
    return {
        "city": member.city,
        "company": member.company,
        "title": member.title,
        "intro": member.intro,
        "reason": reason,
    }


def missing_items(*, session: Session, member: Member) -> list[str]:
    """What the community still requires of this member."""
    settings = service.get_community(
        session=session, workspace_id=member.workspace_id, community_id=member.community_id
    ).rules()
    progress = _progress(session, member)
    return missing_from(
        settings=settings.onboarding,
        given=_given(member, progress.reason if progress else None),
        read_current_rules=rules.has_acknowledged_current(session=session, member=member),
    )


def status_of(*, session: Session, member: Member) -> OnboardingStatus:
    """Whether the member finished the joining ritual, what they gave and what is missing."""
    progress = _progress(session, member)
    missing = [] if member.onboarded_at else missing_items(session=session, member=member)
    return OnboardingStatus(
        member_id=member.id,
        onboarded=member.onboarded_at is not None,
        onboarded_at=member.onboarded_at,
        missing=missing,
        city=member.city,
        company=member.company,
        title=member.title,
        intro=member.intro,
        reason=progress.reason if progress else None,
    )


def record(*, session: Session, member: Member, step: OnboardingIn) -> OnboardingStatus:
    """Save what the member gave; finishing the ritual sets `onboarded_at` once and announces
    it. Partial progress is never an error: the answer lists what is still missing."""
    rules.require_present(member)
    if step.rules_version is not None:
        rules.acknowledge(
            session=session, member=member, version=step.rules_version, field="rules_version"
        )
    for field in ("city", "company", "title", "intro"):
        if (value := getattr(step, field)) is not None:
            setattr(member, field, value)
    if step.reason is not None:
        progress = _progress(session, member) or MemberOnboarding(
            member_id=member.id,
            workspace_id=member.workspace_id,
            community_id=member.community_id,
        )
        progress.reason = step.reason
        progress.updated_at = now()
        session.add(progress)
    session.add(member)
    session.flush()
    if member.onboarded_at is None and not missing_items(session=session, member=member):
        member.onboarded_at = now()
        session.add(member)
        latest = rules.current(session=session, community_id=member.community_id)
        publishing.emit(
            session,
            MemberOnboarded(
                member_id=member.id,
                community_id=member.community_id,
                rules_version=latest.version if latest else None,
                onboarded_at=member.onboarded_at,
            ),
            member=member,
            community_id=member.community_id,
            workspace_id=member.workspace_id,
        )
    return status_of(session=session, member=member)


def unfinished(
    *,
    session: Session,
    workspace_id: str,
    community_id: str,
    older_than_hours: int | None,
    paging: PageParams,
    at: datetime,
) -> Page[UnfinishedMember]:
    """Active and muted members who joined more than N hours ago and have not finished the
    ritual, oldest first: whom operators should chase."""
    community = service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id
    )
    hours = (
        community.rules().onboarding.chase_after_hours
        if older_than_hours is None
        else older_than_hours
    )
    query = select(Member).where(
        Member.workspace_id == community.workspace_id,
        Member.community_id == community.id,
        col(Member.status).in_(vocabulary.PRESENT),
        col(Member.onboarded_at).is_(None),
        col(Member.joined_at) < at - timedelta(hours=hours),
    )
    rows, cursor = paginate(session, query, (col(Member.joined_at), col(Member.id)), paging)
    ids = [m.id for m in rows]
    reasons = dict(
        session.exec(
            select(MemberOnboarding.member_id, MemberOnboarding.reason).where(
                col(MemberOnboarding.member_id).in_(ids)
            )
        ).all()
    )
    latest = rules.current(session=session, community_id=community.id)
    read = (
        set(
            session.exec(
                select(models.RulesAcknowledgement.member_id).where(
                    col(models.RulesAcknowledgement.member_id).in_(ids),
                    models.RulesAcknowledgement.version == latest.version,
                )
            ).all()
        )
        if latest
        else set(ids)
    )
    settings = community.rules().onboarding
    data = []
    for member in rows:
        assert member.joined_at is not None
        data.append(
            UnfinishedMember(
                member_id=member.id,
                display_name=member.display_name,
                joined_at=member.joined_at,
                hours_since_joining=int((at - member.joined_at).total_seconds() // 3600),
                missing=missing_from(
                    settings=settings,
                    given=_given(member, reasons.get(member.id)),
                    read_current_rules=member.id in read,
                ),
            )
        )
    return Page(data=data, next_cursor=cursor)


def merge_onboarding(session: Session, *, survivor: Member, merged: Member) -> None:
    """Whichever record finished the ritual first counts; the survivor keeps its own reason."""
    if merged.onboarded_at and (
        survivor.onboarded_at is None or merged.onboarded_at < survivor.onboarded_at
    ):
        survivor.onboarded_at = merged.onboarded_at
    theirs = session.get(MemberOnboarding, merged.id)
    if theirs is None:
        return
    ours = session.get(MemberOnboarding, survivor.id)
    if ours is None:
        session.add(
            MemberOnboarding(
                member_id=survivor.id,
                workspace_id=survivor.workspace_id,
                community_id=survivor.community_id,
                reason=theirs.reason,
            )
        )
    elif not ours.reason:
        ours.reason = theirs.reason
        session.add(ours)
    session.delete(theirs)
    session.flush()
