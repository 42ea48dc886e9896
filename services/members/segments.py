"""Segments (分层分类): saved rule-based selections of members, evaluated in SQL whenever
they are read, so a segment is always current. The rules are in segments_rules.py, their
SQL in segments_sql.py."""

from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlmodel import Field as SQLField
from sqlmodel import Session, col, select

from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import ActorDep, WorkspaceDep
from services.common.http.pagination import Page, PageParams, page_params, paginate
from services.common.http.problems import Problem, field_problem, not_found
from services.common.ids import new_id
from services.members import service
from services.members.groups_models import Group, GroupState
from services.members.models import (
    Community,
    IdentityIn,
    Member,
    MemberIdentity,
    MemberPublic,
    MembersTable,
    now,
    timestamp_column,
)
from services.members.segments_rules import SegmentRules
from services.members.segments_sql import count_members, members_page
from services.members.tags import tag_in_use_check
from services.members.tags_models import Tag

router = APIRouter(prefix="/v1", tags=["segments"])
Paging = Annotated[PageParams, Depends(page_params)]


class Segment(MembersTable, table=True):
    __tablename__ = "segment"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "name", name="uq_segment_community_name"),
    )

    id: str = SQLField(primary_key=True)
    workspace_id: str
    community_id: str = SQLField(foreign_key="community.id")
    name: str
    rules: dict[str, Any] = SQLField(sa_column=sa.Column(JSONB, nullable=False))
    created_by: str
    created_at: datetime = SQLField(default_factory=now, sa_column=timestamp_column())
    updated_at: datetime = SQLField(default_factory=now, sa_column=timestamp_column())

    def selection(self) -> SegmentRules:
        return SegmentRules.model_validate(self.rules)


class SegmentIn(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    rules: SegmentRules = Field(default_factory=SegmentRules)


class SegmentUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    rules: SegmentRules | None = None


class SegmentPublic(BaseModel):
    id: str
    name: str
    rules: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime


class PreviewIn(BaseModel):
    rules: SegmentRules = Field(default_factory=SegmentRules)


class SegmentCount(BaseModel):
    count: int
    as_of: datetime


class Preview(Page[MemberPublic]):
    count: int
    as_of: datetime


# ---- service -------------------------------------------------------------------------------


def check_references(*, session: Session, community: Community, rules: SegmentRules) -> None:
    """422 naming tag or group ids in the rules that are not the community's."""
    table: type[Tag] | type[Group]
    for field, table, wanted in (
        ("rules.tags", Tag, rules.tags.ids() if rules.tags else set()),
        ("rules.groups", Group, rules.groups.ids() if rules.groups else set()),
    ):
        if not wanted:
            continue
        found = set(
            session.exec(
                select(col(table.id)).where(
                    col(table.id).in_(wanted),
                    table.community_id == community.id,
                    table.workspace_id == community.workspace_id,
                )
            )
        )
        if unknown := sorted(wanted - found):
            raise field_problem(
                field, f"Not in this community: {', '.join(unknown)}", "unknown-references"
            )


def get_segment(
    *, session: Session, community: Community, segment_id: str, for_update: bool = False
) -> Segment:
    query = select(Segment).where(
        Segment.id == segment_id,
        Segment.community_id == community.id,
        Segment.workspace_id == community.workspace_id,
    )
    segment = session.exec(query.with_for_update() if for_update else query).one_or_none()
    if segment is None:
        raise not_found("segment", segment_id)
    return segment


def _name_taken(name: str) -> Problem:
    return Problem(
        409, "segment-exists", "Segment exists", f"The community has a segment named {name!r}."
    )


def create_segment(
    *, session: Session, community: Community, segment_in: SegmentIn, actor: str
) -> Segment:
    """Save rules under a name; 409 if the community has a segment of that name."""
    check_references(session=session, community=community, rules=segment_in.rules)
    at = now()
    segment_id = session.execute(
        insert(Segment.__table__)  # type: ignore[attr-defined]
        .values(
            id=new_id("seg"),
            workspace_id=community.workspace_id,
            community_id=community.id,
            name=segment_in.name,
            rules=segment_in.rules.as_json(),
            created_by=actor,
            created_at=at,
            updated_at=at,
        )
        .on_conflict_do_nothing(constraint="uq_segment_community_name")
        .returning(sa.column("id"))
    ).scalar_one_or_none()
    if segment_id is None:
        raise _name_taken(segment_in.name)
    return get_segment(session=session, community=community, segment_id=segment_id)


def update_segment(
    *, session: Session, community: Community, segment_id: str, update: SegmentUpdate
) -> Segment:
    """Rename a segment or replace its rules."""
    segment = get_segment(
        session=session, community=community, segment_id=segment_id, for_update=True
    )
    if update.rules is not None:
        check_references(session=session, community=community, rules=update.rules)
        segment.rules = update.rules.as_json()
    if update.name is not None and update.name != segment.name:
        if session.exec(
            select(Segment.id).where(
                Segment.community_id == community.id, Segment.name == update.name
            )
        ).first():
            raise _name_taken(update.name)
        segment.name = update.name
    segment.updated_at = now()
    session.add(segment)
    session.flush()
    return segment


def delete_segment(*, session: Session, community: Community, segment_id: str) -> None:
    """Delete a segment; 409 while a group made for it (DOMAIN.md rule 12) still exists."""
    segment = get_segment(
        session=session, community=community, segment_id=segment_id, for_update=True
    )
    groups = list(
        session.exec(
            select(Group.id).where(
                Group.community_id == community.id,
                Group.segment_id == segment.id,
                Group.state != GroupState.dissolved,
            )
        )
    )
    if groups:
        raise Problem(
            409,
            "segment-in-use",
            "Segment in use",
            f"Groups made for this segment: {', '.join(groups)}.",
            group_ids=groups,
        )
    session.delete(segment)


@tag_in_use_check
def segments_using_tag(session: Session, tag: Tag) -> list[str]:
    """Saved segments whose rules name the tag."""
    rules = Segment.__table__.c.rules  # type: ignore[attr-defined]
    mentions = sa.or_(*(rules["tags"][part].has_key(tag.id) for part in ("any", "all", "none")))
    rows = session.exec(
        select(Segment.id).where(Segment.community_id == tag.community_id, mentions)
    )
    return [f"segment {segment_id}" for segment_id in rows]


def members_public(*, session: Session, members: list[Member]) -> list[MemberPublic]:
    """Members with their identities, in one query for the whole page."""
    identities: dict[str, list[IdentityIn]] = {m.id: [] for m in members}
    for identity in session.exec(
        select(MemberIdentity)
        .where(col(MemberIdentity.member_id).in_(list(identities)))
        .order_by(col(MemberIdentity.id))
    ):
        identities[identity.member_id].append(
            IdentityIn(platform=identity.platform, external_id=identity.external_id)
        )
    return [MemberPublic(**m.model_dump(), identities=identities[m.id]) for m in members]


# ---- routes --------------------------------------------------------------------------------


def _community(session: Session, workspace_id: str, community_id: str) -> Community:
    return service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id
    )


def _public(segment: Segment) -> SegmentPublic:
    return SegmentPublic.model_validate(segment, from_attributes=True)


@router.post(
    "/communities/{community_id}/segments",
    status_code=status.HTTP_201_CREATED,
    response_model=SegmentPublic,
    responses={409: {"description": "A segment of that name exists (`segment-exists`)."}},
)
def create_segment_route(
    community_id: str,
    body: SegmentIn,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    actor: ActorDep,
    once: OnceDep,
) -> JSONResponse:
    """Save rules as a named segment; its members are worked out whenever it is read."""

    def create() -> tuple[int, SegmentPublic]:
        community = _community(session, workspace_id, community_id)
        segment = create_segment(session=session, community=community, segment_in=body, actor=actor)
        return 201, _public(segment)

    return once.run(body, create)


@router.get("/communities/{community_id}/segments", response_model=Page[SegmentPublic])
def list_segments(
    community_id: str, session: SessionDep, workspace_id: WorkspaceDep, paging: Paging
) -> Page[SegmentPublic]:
    community = _community(session, workspace_id, community_id)
    query = select(Segment).where(
        Segment.community_id == community.id, Segment.workspace_id == workspace_id
    )
    rows, cursor = paginate(session, query, col(Segment.id), paging)
    return Page(data=[_public(s) for s in rows], next_cursor=cursor)


@router.get("/communities/{community_id}/segments/{segment_id}", response_model=SegmentPublic)
def get_segment_route(
    community_id: str, segment_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> SegmentPublic:
    community = _community(session, workspace_id, community_id)
    return _public(get_segment(session=session, community=community, segment_id=segment_id))


@router.patch("/communities/{community_id}/segments/{segment_id}", response_model=SegmentPublic)
def update_segment_route(
    community_id: str,
    segment_id: str,
    body: SegmentUpdate,
    session: SessionDep,
    workspace_id: WorkspaceDep,
) -> SegmentPublic:
    """Rename a segment or replace its rules (the rules are replaced whole, not merged)."""
    community = _community(session, workspace_id, community_id)
    segment = update_segment(
        session=session, community=community, segment_id=segment_id, update=body
    )
    session.commit()
    return _public(segment)


@router.delete(
    "/communities/{community_id}/segments/{segment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "A group was made for it (`segment-in-use`)."}},
)
def delete_segment_route(
    community_id: str, segment_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> Response:
    community = _community(session, workspace_id, community_id)
    delete_segment(session=session, community=community, segment_id=segment_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/communities/{community_id}/segments/{segment_id}/members",
    response_model=Page[MemberPublic],
)
def segment_members(
    community_id: str,
    segment_id: str,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    paging: Paging,
) -> Page[MemberPublic]:
    """The segment's members now, in id (join) order, a page at a time."""
    community = _community(session, workspace_id, community_id)
    segment = get_segment(session=session, community=community, segment_id=segment_id)
    rows, cursor = members_page(
        session=session, community=community, rules=segment.selection(), paging=paging
    )
    return Page(data=members_public(session=session, members=rows), next_cursor=cursor)


@router.get("/communities/{community_id}/segments/{segment_id}/count", response_model=SegmentCount)
def segment_count(
    community_id: str, segment_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> SegmentCount:
    community = _community(session, workspace_id, community_id)
    segment = get_segment(session=session, community=community, segment_id=segment_id)
    at = now()
    return SegmentCount(
        count=count_members(session=session, community=community, rules=segment.selection(), at=at),
        as_of=at,
    )


@router.post("/communities/{community_id}/segments/preview", response_model=Preview)
def preview_segment(
    community_id: str,
    body: PreviewIn,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    paging: Paging,
) -> Preview:
    """Try rules before saving them: how many members they select, and a page of them."""
    community = _community(session, workspace_id, community_id)
    check_references(session=session, community=community, rules=body.rules)
    at = now()
    rows, cursor = members_page(
        session=session,
        community=community,
        rules=body.rules,
        paging=paging,
        at=at,
    )
    return Preview(
        count=count_members(session=session, community=community, rules=body.rules, at=at),
        data=members_public(session=session, members=rows),
        next_cursor=cursor,
        as_of=at,
    )
