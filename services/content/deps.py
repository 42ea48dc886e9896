"""Dependencies routes share: the caller's community, from the replica."""

from typing import Annotated

from fastapi import Depends

from services.common.db import SessionDep
from services.common.http.identity import WorkspaceDep
from services.content.replica import service as replica
from services.content.replica.models import Community


def caller_community(
    community_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> Community:
    """The community in the path, if it is the caller's; otherwise a 404."""
    return replica.get_community(session, workspace_id=workspace_id, community_id=community_id)


CommunityDep = Annotated[Community, Depends(caller_community)]
