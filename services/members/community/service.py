"""Communities and members: creating, finding, joining, leads and profiles. No HTTP here.

Functions take keyword arguments and don't commit: the caller owns the transaction, so a
change and its outbox events commit together.
"""

from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from services.common.contracts import (
    CommunityCreated,
)
from services.common.http.problems import Problem, field_problem, not_found
from services.common.ids import new_id
from services.members.community.models import (
    Community,
    CommunityCreate,
    CommunityUpdate,
)
from services.members.community.settings import CommunitySettings, defaults_for, merge_settings
from services.members.publishing import emit


def _validated_settings(purpose: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
    merged = merge_settings(defaults_for(purpose).model_dump(mode="json"), overrides or {})
    try:
        return CommunitySettings.model_validate(merged).model_dump(mode="json")
    except ValidationError as exc:
        errors = [
            {
                "field": "settings." + ".".join(str(p) for p in e["loc"]),
                "in": "body",
                "message": e["msg"],
                "code": e["type"],
            }
            for e in exc.errors()
        ]
        raise Problem(
            422,
            "validation-error",
            "The request is not valid",
            "Some settings are not valid.",
            errors=errors,
        ) from exc


def create_community(
    *, session: Session, workspace_id: str, community_in: CommunityCreate
) -> Community:
    """Create a community with its purpose's default settings and announce it."""
    community = Community(
        id=new_id("cmt"),
        workspace_id=workspace_id,
        name=community_in.name,
        purpose=community_in.purpose,
        timezone=community_in.timezone,
        description=community_in.description,
        settings=_validated_settings(community_in.purpose, community_in.settings),
    )
    session.add(community)
    session.flush()
    emit(
        session,
        CommunityCreated(
            community_id=community.id,
            name=community.name,
            purpose=community.purpose,
            timezone=community.timezone,
            created_at=community.created_at,
        ),
        community_id=community.id,
        workspace_id=workspace_id,
    )
    return community


def get_community(
    *, session: Session, workspace_id: str, community_id: str, for_update: bool = False
) -> Community:
    """The community, or a 404 problem; another workspace's community is not found either.

    Without a lock it is read once per session: the handlers of one event each ask for it.
    (The identity map alone would not do: it holds objects weakly, and a handler's community
    is gone once the handler returns.)"""
    known: dict[str, Community] = session.info.setdefault("communities", {})
    community = known.get(community_id) if not for_update else None
    if community is None:
        community = session.get(Community, community_id, with_for_update=for_update or None)
        if community is not None:
            known[community_id] = community
    if community is None or community.workspace_id != workspace_id:
        raise not_found("community", community_id)
    return community


def list_communities(*, session: Session, workspace_id: str) -> Any:
    """The workspace's communities."""
    return select(Community).where(Community.workspace_id == workspace_id)


def update_community(
    *, session: Session, community: Community, update: CommunityUpdate
) -> Community:
    """Change a community's name, description or timezone; nulls are refused."""
    for key, value in update.model_dump(exclude_unset=True).items():
        if value is None:
            raise field_problem(key, f"{key} cannot be null")
        setattr(community, key, value)
    session.add(community)
    return community


def update_settings(
    *, session: Session, community: Community, patch: dict[str, Any]
) -> CommunitySettings:
    """Lay `patch` over the current settings, section by section, and validate the result."""
    community.settings = _validated_settings(
        community.purpose, merge_settings(community.settings, patch)
    )
    session.add(community)
    return community.rules()
