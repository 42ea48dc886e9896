"""Members' HTTP routes; the logic lives in `service.py`."""

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from services.common.db import SessionDep
from services.common.http.idempotency import IdempotencyKey, fingerprint, run_once
from services.common.http.identity import WorkspaceDep
from services.members import service
from services.members.models import CommunityCreate, CommunityPublic, MemberCreate, MemberPublic

router = APIRouter(prefix="/v1")


@router.post(
    "/communities",
    status_code=status.HTTP_201_CREATED,
    response_model=CommunityPublic,
    tags=["communities"],
)
def create_community(
    body: CommunityCreate,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Create a community."""

    def create() -> tuple[int, CommunityPublic]:
        community = service.create_community(
            session=session, workspace_id=workspace_id, community_in=body
        )
        return 201, CommunityPublic.model_validate(community, from_attributes=True)

    return run_once(
        session,
        workspace_id=workspace_id,
        key=idempotency_key,
        request_fingerprint=fingerprint("POST /v1/communities", body),
        create=create,
    )


@router.get("/communities/{community_id}", response_model=CommunityPublic, tags=["communities"])
def get_community(
    community_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> CommunityPublic:
    community = service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id
    )
    return CommunityPublic.model_validate(community, from_attributes=True)


@router.post(
    "/communities/{community_id}/members",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberPublic,
    tags=["members"],
    responses={
        200: {
            "model": MemberPublic,
            "description": "A member already holds one of "
            "the identities; that member is returned and nothing is created.",
        }
    },
)
def join_member(
    community_id: str,
    body: MemberCreate,
    session: SessionDep,
    workspace_id: WorkspaceDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Add a member to a community; emits `io.qunyun.member.joined.v1`."""

    def create() -> tuple[int, MemberPublic]:
        member, created = service.join_member(
            session=session, workspace_id=workspace_id, community_id=community_id, member_in=body
        )
        return (201 if created else 200), service.member_public(session=session, member=member)

    return run_once(
        session,
        workspace_id=workspace_id,
        key=idempotency_key,
        request_fingerprint=fingerprint(f"POST /v1/communities/{community_id}/members", body),
        create=create,
    )
