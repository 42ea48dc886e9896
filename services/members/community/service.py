"""Communities and members: creating, finding, joining, leads and profiles. No HTTP here.

Functions take keyword arguments and don't commit: the caller owns the transaction, so a
change and its outbox events commit together.
"""

from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from services.common import clock
from services.common.contracts import (
    CommunityCreated,
    CommunityUpdated,
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


def _validated_settings(
    purpose: str, overrides: dict[str, Any] | None, *, field_prefix: str
) -> dict[str, Any]:
    """The purpose's defaults with `overrides` laid over them, or the 422 naming each field
    wrong in the result as the request spells it (`field_prefix`: where the settings are in
    the body)."""
    merged = merge_settings(defaults_for(purpose).model_dump(mode="json"), overrides or {})
    try:
        return CommunitySettings.model_validate(merged).model_dump(mode="json")
    except ValidationError as exc:
        errors = [
            {
                "field": field_prefix + ".".join(str(p) for p in e["loc"]),
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
        settings=_validated_settings(
            community_in.purpose,
            community_in.settings.model_dump(mode="json", exclude_unset=True)
            if community_in.settings
            else None,
            field_prefix="settings.",
        ),
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
    changed = []
    for key, value in update.model_dump(exclude_unset=True).items():
        if value is None:
            raise field_problem(key, f"{key} cannot be null")
        if getattr(community, key) != value:
            changed.append(key)
        setattr(community, key, value)
    session.add(community)
    # The description is members' own; what other services replicate is announced.
    announce_changed(session, community=community, changed=[k for k in changed if k in SHARED])
    return community


def update_settings(
    *, session: Session, community: Community, patch: dict[str, Any]
) -> CommunitySettings:
    """Lay `patch` over the current settings, section by section, and validate the result."""
    before = community.settings
    community.settings = _validated_settings(
        community.purpose, merge_settings(community.settings, patch), field_prefix=""
    )
    session.add(community)
    sections = sorted(k for k in community.settings if community.settings[k] != before.get(k))
    announce_changed(session, community=community, changed=[f"settings.{k}" for k in sections])
    return community.rules()


# What other services keep of a community besides its settings (community.updated carries it).
SHARED = ("name", "purpose", "timezone")


def announce_changed(session: Session, *, community: Community, changed: list[str]) -> None:
    """Tell the other services what `changed` on the community (nothing if nothing did), with
    the whole state they replicate, so a replica upserts it as it comes."""
    if not changed:
        return
    emit(
        session,
        CommunityUpdated(
            community_id=community.id,
            name=community.name,
            purpose=community.purpose,
            timezone=community.timezone,
            changed=changed,
            updated_at=clock.now(),
        ),
        community_id=community.id,
        workspace_id=community.workspace_id,
    )
