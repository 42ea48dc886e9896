"""Tags: creating and deleting them, putting them on members and taking them off."""

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse
from sqlmodel import col

from services.common.db import SessionDep
from services.common.http.idempotency import OnceDep
from services.common.http.identity import ActorDep
from services.common.http.pagination import Page, Paging, paginate
from services.members.deps import CommunityDep, MemberDep, located
from services.members.segments import service as segments
from services.members.tags import service
from services.members.tags.models import (
    BulkTagResult,
    MemberIdsIn,
    Tag,
    TagCategory,
    TagIn,
    TagPublic,
)

router = APIRouter(prefix="/v1/communities/{community_id}", tags=["tags"])

# Who may rely on a tag: a tag they use is not deleted from under them.
IN_USE = (segments.segments_using_tag,)


def _public(tag: Tag) -> TagPublic:
    return TagPublic.model_validate(tag, from_attributes=True)


@router.post(
    "/tags",
    status_code=status.HTTP_201_CREATED,
    response_model=TagPublic,
    responses={409: {"description": "A tag of that name exists (`tag-exists`)."}},
)
def create_tag(
    community: CommunityDep, body: TagIn, session: SessionDep, once: OnceDep
) -> JSONResponse:
    """Create a tag; names are unique in a community."""

    def create() -> tuple[int, TagPublic]:
        return 201, _public(service.create_tag(session=session, community=community, tag_in=body))

    return located(once.run(body, create), f"/v1/communities/{community.id}/tags/{{id}}")


@router.get("/tags/{tag_id}", response_model=TagPublic)
def get_tag(community: CommunityDep, tag_id: str, session: SessionDep) -> TagPublic:
    return _public(service.get_tag(session=session, community=community, tag_id=tag_id))


@router.get("/tags", response_model=Page[TagPublic])
def list_tags(
    community: CommunityDep,
    session: SessionDep,
    paging: Paging,
    category: TagCategory | None = None,
) -> Page[TagPublic]:
    rows, cursor = paginate(
        session, service.tags_query(community=community, category=category), col(Tag.id), paging
    )
    return Page(data=[_public(t) for t in rows], next_cursor=cursor)


@router.delete(
    "/tags/{tag_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "A saved segment uses the tag (`tag-in-use`)."}},
)
def delete_tag(community: CommunityDep, tag_id: str, session: SessionDep) -> Response:
    """Delete a tag and take it off every member."""
    service.delete_tag(session=session, community=community, tag_id=tag_id, in_use=IN_USE)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/tags/{tag_id}/members",
    response_model=BulkTagResult,
    responses={422: {"description": "Some ids are not members here (`unknown-members`)."}},
)
def tag_members(
    community: CommunityDep,
    tag_id: str,
    body: MemberIdsIn,
    session: SessionDep,
    actor: ActorDep,
) -> BulkTagResult:
    """Tag up to 1000 members at once; idempotent. Any unknown id and nothing changes."""
    result = service.tag_members(
        session=session,
        community=community,
        tag_id=tag_id,
        member_ids=body.member_ids,
        actor=actor,
    )
    session.commit()
    return result


@router.post(
    "/tags/{tag_id}/members/remove",
    response_model=BulkTagResult,
    responses={422: {"description": "Some ids are not members here (`unknown-members`)."}},
)
def untag_members(
    community: CommunityDep, tag_id: str, body: MemberIdsIn, session: SessionDep
) -> BulkTagResult:
    """Take a tag off up to 1000 members at once; idempotent. (A POST: DELETE bodies are
    dropped by some proxies.)"""
    result = service.untag_members(
        session=session, community=community, tag_id=tag_id, member_ids=body.member_ids
    )
    session.commit()
    return result


@router.delete("/tags/{tag_id}/members/{member_id}", response_model=BulkTagResult)
def untag_member(
    community: CommunityDep, tag_id: str, member: MemberDep, session: SessionDep
) -> BulkTagResult:
    """Take a tag off one member; idempotent."""
    result = service.untag_members(
        session=session, community=community, tag_id=tag_id, member_ids=[member.id]
    )
    session.commit()
    return result


@router.get("/members/{member_id}/tags", response_model=Page[TagPublic])
def member_tags(member: MemberDep, session: SessionDep, paging: Paging) -> Page[TagPublic]:
    """A member's tags, by category then name."""
    rows, cursor = paginate(
        session,
        service.member_tags_query(member=member),
        (col(Tag.category), col(Tag.name), col(Tag.id)),
        paging,
    )
    return Page(data=[_public(t) for t in rows], next_cursor=cursor)
