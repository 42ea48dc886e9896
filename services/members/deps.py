"""What members routes ask for by type: the community and the member named in the path, found
within the caller's workspace (another workspace's answer 404, as missing ones do), one page
of a list, the merge steps app.py names, and the `Location` of what a route created."""

from collections.abc import Sequence
from typing import Annotated

import orjson
from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from services.common.db import SessionDep
from services.common.http.identity import WorkspaceDep
from services.common.http.openapi import set_location
from services.members.community import members, service
from services.members.community.merge import MergeStep
from services.members.community.models import Community, Member


def community_in_path(
    community_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> Community:
    """The community of the path, or the 404 problem."""
    return service.get_community(
        session=session, workspace_id=workspace_id, community_id=community_id
    )


CommunityDep = Annotated[Community, Depends(community_in_path)]


def member_in_path(member_id: str, community: CommunityDep, session: SessionDep) -> Member:
    """The community's member of the path, or the 404 problem. A merged-away member is found
    too: routes that show a member answer with a pointer to the survivor."""
    return members.get_member(
        session=session,
        workspace_id=community.workspace_id,
        community_id=community.id,
        member_id=member_id,
    )


MemberDep = Annotated[Member, Depends(member_in_path)]


def merge_steps(request: Request) -> Sequence[MergeStep]:
    return request.app.state.merge_steps


MergeStepsDep = Annotated[Sequence[MergeStep], Depends(merge_steps)]


def located(response: JSONResponse, path: str) -> JSONResponse:
    """Give a 201 (first answer or idempotent replay) its `Location`.

    `path` may name `{id}`, the created resource's id as its body says, since the id is only
    known once created (and a replay never runs the creation again).
    """
    if response.status_code == 201:
        created = orjson.loads(response.body)
        set_location(response, path.format(id=created.get("id", "")))
    return response
