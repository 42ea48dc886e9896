"""Who is calling: services trust the workspace header only with the gateway's internal token."""

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from services.common.http.problems import Problem

INTERNAL_TOKEN_HEADER = "X-Qunyun-Internal-Token"
WORKSPACE_HEADER = "X-Qunyun-Workspace-Id"
ACTOR_HEADER = "X-Qunyun-Actor"


def caller_workspace(
    request: Request,
    token: Annotated[
        str | None, Header(alias=INTERNAL_TOKEN_HEADER, include_in_schema=False)
    ] = None,
    workspace_id: Annotated[
        str | None, Header(alias=WORKSPACE_HEADER, include_in_schema=False)
    ] = None,
) -> str:
    expected = request.app.state.settings.internal_token
    if not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Problem(
            401, "unauthorized", "Authentication required", "Call the platform through the gateway."
        )
    if not workspace_id:
        raise Problem(401, "unauthorized", "Authentication required", "No workspace on the call.")
    return workspace_id


WorkspaceDep = Annotated[str, Depends(caller_workspace)]


def caller_actor(
    _workspace: WorkspaceDep,
    actor: Annotated[str | None, Header(alias=ACTOR_HEADER, include_in_schema=False)] = None,
) -> str:
    """Who acts, for audit trails: the gateway names the API key; trusted like the workspace."""
    return actor or "unknown"


ActorDep = Annotated[str, Depends(caller_actor)]
