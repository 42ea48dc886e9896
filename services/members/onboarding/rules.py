"""Community rules (群规) as numbered versions that members acknowledge (DOMAIN.md rule 6).

A new text is a new version (1, 2, 3 … per community), announced so bots pin it as the group
announcement. Members acknowledge a version; only the current one counts as "has read the
rules", so after a change operators can list who still has to read it and reinforce it.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from services.common.clock import now
from services.common.contracts.onboarding import RulesPublished
from services.common.ids import new_id
from services.members import problems, publishing
from services.members.community import service
from services.members.community.models import Community, Member
from services.members.onboarding.models import RulesAcknowledgement, RulesVersion
from services.members.vocabulary import PRESENT


def publish(*, session: Session, community: Community, text: str, actor: str) -> RulesVersion:
    """Publish the next rules version; the community row lock numbers concurrent ones apart."""
    locked = service.get_community(
        session=session,
        workspace_id=community.workspace_id,
        community_id=community.id,
        for_update=True,
    )
    latest = session.exec(
        select(sa.func.max(RulesVersion.version)).where(RulesVersion.community_id == locked.id)
    ).one()
    rules = RulesVersion(
        id=new_id("rul"),
        workspace_id=locked.workspace_id,
        community_id=locked.id,
        version=(latest or 0) + 1,
        text=text,
        published_by=actor,
    )
    session.add(rules)
    session.flush()
    publishing.emit(
        session,
        RulesPublished(
            community_id=locked.id,
            version=rules.version,
            text=rules.text,
            published_by=actor,
            published_at=rules.published_at,
        ),
        community_id=locked.id,
        workspace_id=locked.workspace_id,
    )
    return rules


def current(*, session: Session, community_id: str) -> RulesVersion | None:
    """The newest rules version of the community, if any was published."""
    return session.exec(
        select(RulesVersion)
        .where(RulesVersion.community_id == community_id)
        .order_by(col(RulesVersion.version).desc())
        .limit(1)
    ).one_or_none()


def in_force(*, session: Session, community: Community) -> RulesVersion:
    """The version in force, or the 404 `no-rules` problem before the first is published."""
    latest = current(session=session, community_id=community.id)
    if latest is None:
        raise problems.NoRules()
    return latest


def versions_query(*, community: Community) -> Any:
    """Every version of the community's rules."""
    return select(RulesVersion).where(RulesVersion.community_id == community.id)


def get_version(*, session: Session, community_id: str, version: int) -> RulesVersion | None:
    """One version of the community's rules, if it exists."""
    return session.exec(
        select(RulesVersion).where(
            RulesVersion.community_id == community_id, RulesVersion.version == version
        )
    ).one_or_none()


def acknowledge(
    *, session: Session, member: Member, version: int, field: str = "version"
) -> RulesAcknowledgement:
    """Record that the member read `version` (a 422 naming `field` if there is no such
    version); acknowledging twice keeps the first time."""
    if get_version(session=session, community_id=member.community_id, version=version) is None:
        raise problems.UnknownRulesVersion(field=field, version=version)
    session.execute(
        insert(RulesAcknowledgement.__table__)  # type: ignore[attr-defined]
        .values(
            member_id=member.id,
            version=version,
            workspace_id=member.workspace_id,
            community_id=member.community_id,
            acknowledged_at=now(),
        )
        .on_conflict_do_nothing()
    )
    return session.exec(
        select(RulesAcknowledgement).where(
            RulesAcknowledgement.member_id == member.id, RulesAcknowledgement.version == version
        )
    ).one()


def has_acknowledged_current(*, session: Session, member: Member) -> bool:
    """True when the member acknowledged the current version, or no rules exist yet."""
    latest = current(session=session, community_id=member.community_id)
    if latest is None:
        return True
    return (
        session.get(RulesAcknowledgement, {"member_id": member.id, "version": latest.version})
        is not None
    )


def unacknowledged_query(*, community: Community, version: int) -> Any:
    """Members present in the community who have not acknowledged `version`."""
    acknowledged = (
        select(RulesAcknowledgement.member_id)
        .where(
            RulesAcknowledgement.member_id == Member.id,
            RulesAcknowledgement.version == version,
        )
        .exists()
    )
    return select(Member).where(
        Member.workspace_id == community.workspace_id,
        Member.community_id == community.id,
        col(Member.status).in_(PRESENT),
        ~acknowledged,
    )


def move_acknowledgements(session: Session, *, survivor: Member, merged: Member) -> None:
    """The survivor has read whatever either record read."""
    session.execute(
        sa.text(
            "INSERT INTO rules_acknowledgement "
            "(member_id, version, workspace_id, community_id, acknowledged_at) "
            "SELECT :survivor, version, workspace_id, community_id, acknowledged_at "
            "FROM rules_acknowledgement WHERE member_id = :merged ON CONFLICT DO NOTHING"
        ),
        {"survivor": survivor.id, "merged": merged.id},
    )
    session.execute(
        sa.text("DELETE FROM rules_acknowledgement WHERE member_id = :merged"),
        {"merged": merged.id},
    )


def require_present(member: Member) -> None:
    """A 409 for someone who is not (or no longer) in the community."""
    if member.status not in PRESENT:
        raise problems.MemberNotPresent(current_status=member.status.value)
