"""Community rules (群规) as numbered versions that members acknowledge (DOMAIN.md rule 6).

A new text is a new version (1, 2, 3 … per community), announced so bots pin it as the group
announcement. Members acknowledge a version; only the current one counts as "has read the
rules", so after a change operators can list who still has to read it and reinforce it.
"""

from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Field, Session, col, select

from services.common.contracts.onboarding import RulesPublished
from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import ActorDep, WorkspaceDep
from services.common.http.pagination import Page, PageParams, page_params, paginate
from services.common.http.problems import Problem, field_problem
from services.common.ids import new_id
from services.members import merge, service
from services.members.models import (
    Community,
    Member,
    MemberPublic,
    MembersTable,
    MemberStatus,
    now,
    timestamp_column,
)

router = APIRouter(prefix="/v1", tags=["rules"])
Paging = Annotated[PageParams, Depends(page_params)]

# Who is expected to have read the rules: people in the community now.
PRESENT = (MemberStatus.active, MemberStatus.muted)


class RulesVersion(MembersTable, table=True):
    __tablename__ = "rules_version"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "version", name="uq_rules_version_number"),
    )

    id: str = Field(primary_key=True)
    workspace_id: str
    community_id: str = Field(foreign_key="community.id")
    version: int
    text: str
    published_by: str
    published_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class RulesAcknowledgement(MembersTable, table=True):
    __tablename__ = "rules_acknowledgement"

    member_id: str = Field(primary_key=True, foreign_key="member.id")
    version: int = Field(primary_key=True)
    workspace_id: str
    community_id: str
    acknowledged_at: datetime = Field(default_factory=now, sa_column=timestamp_column())


class RulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]


class RulesPublic(BaseModel):
    version: int
    text: str
    published_by: str
    published_at: datetime


class AcknowledgementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)


class AcknowledgementPublic(BaseModel):
    member_id: str
    version: int
    acknowledged_at: datetime
    is_current: bool


def _public(rules: RulesVersion) -> RulesPublic:
    return RulesPublic.model_validate(rules, from_attributes=True)


# ---- service ------------------------------------------------------------------------------


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
    service.emit(
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


def get_version(*, session: Session, community_id: str, version: int) -> RulesVersion | None:
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
        raise field_problem(
            field, f"This community has no rules version {version}.", "unknown-rules-version"
        )
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


@merge.merge_step
def _move_acknowledgements(session: Session, survivor: Member, merged: Member) -> None:
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


# ---- routes -------------------------------------------------------------------------------


def _community(session: Session, workspace_id: str, community_id: str) -> Community:
    return service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id
    )


def _current_or_404(session: Session, community: Community) -> RulesVersion:
    latest = current(session=session, community_id=community.id)
    if latest is None:
        raise Problem(
            404, "no-rules", "No rules yet", "This community has not published rules yet."
        )
    return latest


@router.post(
    "/communities/{community_id}/rules",
    status_code=status.HTTP_201_CREATED,
    response_model=RulesPublic,
)
def publish_rules(
    community_id: str,
    body: RulesIn,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    actor: ActorDep,
    once: OnceDep,
) -> JSONResponse:
    """Publish a new version of the rules; emits `community.rules_published` for bots to pin."""

    def create() -> tuple[int, RulesPublic]:
        community = _community(session, workspace_id, community_id)
        return 201, _public(
            publish(session=session, community=community, text=body.text, actor=actor)
        )

    return once.run(body, create)


@router.get("/communities/{community_id}/rules", response_model=Page[RulesPublic])
def list_rules(
    community_id: str, session: SessionDep, workspace_id: WorkspaceDep, paging: Paging
) -> Page[RulesPublic]:
    """Every version, newest first."""
    community = _community(session, workspace_id, community_id)
    query = select(RulesVersion).where(RulesVersion.community_id == community.id)
    if paging.cursor:  # a version number, newest first
        query = query.where(RulesVersion.version < _version_cursor(paging.cursor))
    rows = list(
        session.exec(query.order_by(col(RulesVersion.version).desc()).limit(paging.limit + 1))
    )
    more = len(rows) > paging.limit
    rows = rows[: paging.limit]
    return Page(
        data=[_public(r) for r in rows], next_cursor=f"v{rows[-1].version}" if more else None
    )


def _version_cursor(cursor: str) -> int:
    if not (cursor.startswith("v") and cursor[1:].isdigit()):
        raise Problem(
            400,
            "invalid-cursor",
            "Invalid cursor",
            "Pass back the `next_cursor` of a previous page unchanged.",
        )
    return int(cursor[1:])


@router.get("/communities/{community_id}/rules/current", response_model=RulesPublic)
def current_rules(
    community_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> RulesPublic:
    """The version in force; a 404 `no-rules` before the first one is published."""
    return _public(_current_or_404(session, _community(session, workspace_id, community_id)))


@router.get(
    "/communities/{community_id}/rules/current/unacknowledged",
    response_model=Page[MemberPublic],
)
def unacknowledged(
    community_id: str, session: SessionDep, workspace_id: WorkspaceDep, paging: Paging
) -> Page[MemberPublic]:
    """Active and muted members who have not acknowledged the current version: whom to remind."""
    community = _community(session, workspace_id, community_id)
    latest = _current_or_404(session, community)
    rows, cursor = paginate(
        session,
        unacknowledged_query(community=community, version=latest.version),
        col(Member.id),
        paging,
    )
    return Page(
        data=[service.member_public(session=session, member=m) for m in rows], next_cursor=cursor
    )


@router.post(
    "/communities/{community_id}/members/{member_id}/rules-acknowledgements",
    response_model=AcknowledgementPublic,
    responses={
        409: {"description": "The member is not in the community (removed, banned, merged)."}
    },
)
def acknowledge_rules(
    community_id: str,
    member_id: str,
    body: AcknowledgementIn,
    session: SessionDep,
    workspace_id: WorkspaceDep,
) -> AcknowledgementPublic:
    """Record that a member read a rules version. An older version is recorded too, but only
    the current one counts; repeating it is harmless and keeps the first time."""
    member = service.get_member(
        session=session, workspace_id=workspace_id, community_id=community_id, member_id=member_id
    )
    require_present(member)
    ack = acknowledge(session=session, member=member, version=body.version)
    latest = current(session=session, community_id=member.community_id)
    session.commit()
    return AcknowledgementPublic(
        member_id=member.id,
        version=ack.version,
        acknowledged_at=ack.acknowledged_at,
        is_current=latest is not None and latest.version == ack.version,
    )


def require_present(member: Member) -> None:
    """A 409 for someone who is not (or no longer) in the community."""
    if member.status not in PRESENT:
        raise Problem(
            409,
            "member-not-present",
            "Member not in the community",
            f"A {member.status.value} member cannot do this.",
            current_status=member.status.value,
        )
