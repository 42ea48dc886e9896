"""Dependencies every router shares: the community of the path, read from the local replica
and scoped to the caller's workspace (another workspace's community is a 404)."""

from typing import Annotated

from fastapi import Depends

from services.common.db import SessionDep
from services.common.http.identity import WorkspaceDep
from services.events.replica.models import Community
from services.events.replica.service import community_of


def community_in_path(
    community_id: str, session: SessionDep, workspace_id: WorkspaceDep
) -> Community:
    community = community_of(session, workspace_id=workspace_id, community_id=community_id)
    # Hand the connection back before the route runs: dependencies and routes take turns on
    # the threadpool, and a request holding a pooled connection while it waits for a thread
    # can starve the requests that hold threads while they wait for a connection.
    session.expunge(community)
    session.rollback()
    return community


CommunityDep = Annotated[Community, Depends(community_in_path)]
