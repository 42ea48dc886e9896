"""Merging two records of one person: identities and everything the sub-domains keep per
member move to the survivor; the merged-away id keeps answering with a pointer to it."""

from collections.abc import Sequence
from typing import Protocol

from sqlmodel import Session, select

from services.common.clock import now
from services.common.contracts import MembersMerged
from services.members import problems
from services.members.community.members import record_transition
from services.members.community.models import Member, MemberIdentity
from services.members.publishing import emit
from services.members.vocabulary import MemberStatus


class MergeStep(Protocol):
    """How one sub-domain moves its per-member rows to the survivor (app.py lists them all)."""

    def __call__(self, session: Session, *, survivor: Member, merged: Member) -> None: ...


def merge_members(
    *,
    session: Session,
    survivor: Member,
    merged: Member,
    actor: str,
    steps: Sequence[MergeStep],
) -> Member:
    """Fold `merged` into `survivor`. Both must be in the same community and neither merged."""
    if survivor.id == merged.id:
        raise problems.MergeIntoSelf()
    if MemberStatus.merged in (survivor.status, merged.status):
        raise problems.AlreadyMerged()
    for identity in session.exec(
        select(MemberIdentity).where(MemberIdentity.member_id == merged.id)
    ):
        identity.member_id = survivor.id
        session.add(identity)
    for field in ("city", "company", "title", "intro", "birthday", "referred_by"):
        if getattr(survivor, field) is None:
            setattr(survivor, field, getattr(merged, field))
    survivor.attributes = {**merged.attributes, **survivor.attributes}
    survivor.message_count += merged.message_count
    if merged.last_active_at and (
        not survivor.last_active_at or merged.last_active_at > survivor.last_active_at
    ):
        survivor.last_active_at = merged.last_active_at
    if merged.joined_at and (not survivor.joined_at or merged.joined_at < survivor.joined_at):
        survivor.joined_at = merged.joined_at
    if survivor.referred_by == survivor.id:
        survivor.referred_by = None
    session.flush()
    for step in steps:
        step(session, survivor=survivor, merged=merged)
    merged.merged_into = survivor.id
    record_transition(
        session=session,
        member=merged,
        to_status=MemberStatus.merged,
        actor=actor,
        reason=f"merged into {survivor.id}",
    )
    session.add(survivor)
    emit(
        session,
        MembersMerged(
            survivor_id=survivor.id,
            merged_id=merged.id,
            community_id=survivor.community_id,
            merged_at=now(),
        ),
        member=survivor,
        community_id=survivor.community_id,
        workspace_id=survivor.workspace_id,
    )
    return survivor
