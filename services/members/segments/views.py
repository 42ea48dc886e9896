"""Segments: saved rules that select members, worked out whenever they are read."""

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse
from sqlmodel import col

from services.common.clock import now
from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import ActorDep
from services.common.http.pagination import Page, Paging, paginate
from services.members.community.models import MemberPublic
from services.members.deps import CommunityDep, located
from services.members.segments import service
from services.members.segments.models import (
    Preview,
    PreviewIn,
    Segment,
    SegmentCount,
    SegmentIn,
    SegmentPublic,
    SegmentUpdate,
)
from services.members.segments.sql import count_members, members_page

router = APIRouter(prefix="/v1/communities/{community_id}", tags=["segments"])


def _public(segment: Segment) -> SegmentPublic:
    return SegmentPublic.model_validate(segment, from_attributes=True)


@router.post(
    "/segments",
    status_code=status.HTTP_201_CREATED,
    response_model=SegmentPublic,
    responses={409: {"description": "A segment of that name exists (`segment-exists`)."}},
)
def create_segment(
    community: CommunityDep,
    body: SegmentIn,
    session: SessionDep,
    actor: ActorDep,
    once: OnceDep,
) -> JSONResponse:
    """Save rules as a named segment; its members are worked out whenever it is read."""

    def create() -> tuple[int, SegmentPublic]:
        segment = service.create_segment(
            session=session, community=community, segment_in=body, actor=actor
        )
        return 201, _public(segment)

    return located(once.run(body, create), f"/v1/communities/{community.id}/segments/{{id}}")


@router.get("/segments", response_model=Page[SegmentPublic])
def list_segments(
    community: CommunityDep, session: SessionDep, paging: Paging
) -> Page[SegmentPublic]:
    rows, cursor = paginate(
        session, service.segments_query(community=community), col(Segment.id), paging
    )
    return Page(data=[_public(s) for s in rows], next_cursor=cursor)


@router.get("/segments/{segment_id}", response_model=SegmentPublic)
def get_segment(community: CommunityDep, segment_id: str, session: SessionDep) -> SegmentPublic:
    return _public(service.get_segment(session=session, community=community, segment_id=segment_id))


@router.patch(
    "/segments/{segment_id}",
    response_model=SegmentPublic,
    responses={409: {"description": "A segment of that name exists (`segment-exists`)."}},
)
def update_segment(
    community: CommunityDep,
    segment_id: str,
    body: SegmentUpdate,
    session: SessionDep,
) -> SegmentPublic:
    """Rename a segment or replace its rules (the rules are replaced whole, not merged)."""
    segment = service.update_segment(
        session=session, community=community, segment_id=segment_id, update=body
    )
    session.commit()
    return _public(segment)


@router.delete(
    "/segments/{segment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "A group was made for it (`segment-in-use`)."}},
)
def delete_segment(community: CommunityDep, segment_id: str, session: SessionDep) -> Response:
    service.delete_segment(session=session, community=community, segment_id=segment_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/segments/{segment_id}/members",
    response_model=Page[MemberPublic],
)
def segment_members(
    community: CommunityDep,
    segment_id: str,
    session: SessionDep,
    paging: Paging,
) -> Page[MemberPublic]:
    """The segment's members now, in id (join) order, a page at a time."""
    segment = service.get_segment(session=session, community=community, segment_id=segment_id)
    rows, cursor = members_page(
        session=session, community=community, rules=segment.selection(), paging=paging
    )
    return Page(data=service.members_public(session=session, members=rows), next_cursor=cursor)


@router.get("/segments/{segment_id}/count", response_model=SegmentCount)
def segment_count(community: CommunityDep, segment_id: str, session: SessionDep) -> SegmentCount:
    segment = service.get_segment(session=session, community=community, segment_id=segment_id)
    at = now()
    return SegmentCount(
        count=count_members(session=session, community=community, rules=segment.selection(), at=at),
        as_of=at,
    )


@router.post("/segments/preview", response_model=Preview)
def preview_segment(
    community: CommunityDep,
    body: PreviewIn,
    session: SessionDep,
    paging: Paging,
) -> Preview:
    """Try rules before saving them: how many members they select, and a page of them."""
    service.check_references(session=session, community=community, rules=body.rules)
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
        data=service.members_public(session=session, members=rows),
        next_cursor=cursor,
        as_of=at,
    )
