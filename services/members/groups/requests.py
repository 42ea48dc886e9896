"""Temporary groups (临时群) that activities ask for (DOMAIN.md rule 11): the events service
publishes `activity.temporary_group_requested`; members registers the group as `kind:
temporary`, dissolving when the request says (the activity's end plus its grace period), and
answers with `group.activity_group_created` after the usual `group.created`.

One group per activity and workspace, however often the request arrives (a unique index on
the group's `activity_id`, checked under the community's group lock). The chat does not exist
on its platform yet, so the group's `external_id` is `activity:<activity_id>` for now.

What cannot be acted on is decided here, never retried:
- a community unknown in the event's workspace: `Unprocessable`, so the consumer dead-letters
  it at once (events only knows communities members announced: this is a cross-tenant or
  corrupt event, for an operator to look at and replay after the fix);
- a request members cannot satisfy (a platform it does not run, a dissolve time already past,
  a capacity out of range, a placeholder id some group already has): ignored with a warning
  naming the activity; the operator links a group by hand (`PUT .../activities/{id}/group`).
"""

import logging
from datetime import datetime

import pydantic
from sqlmodel import Session, select

from services.common.consumer import Unprocessable
from services.common.contracts import ActivityGroupCreated, TemporaryGroupRequested
from services.common.http.problems import Problem
from services.members.community.models import Community
from services.members.groups.capacity import lock_community_groups
from services.members.groups.models import Group, GroupCreate, GroupKind
from services.members.groups.service import create_group
from services.members.publishing import emit

log = logging.getLogger(__name__)

NAME_MAX = 120  # GroupCreate's limit; a longer activity title is cut, not refused


def placeholder_external_id(activity_id: str) -> str:
    """The group's id on its platform until the chat exists there."""
    return f"activity:{activity_id}"


def group_for_activity(
    session: Session, *, workspace_id: str, request: TemporaryGroupRequested, at: datetime
) -> Group | None:
    """Register the temporary group the activity asks for and announce it; None when the
    activity has its group already or the request cannot be satisfied (logged)."""
    community = session.get(Community, request.community_id)
    if community is None or community.workspace_id != workspace_id:
        raise Unprocessable(
            f"community {request.community_id} is unknown in workspace {workspace_id}"
        )
    lock_community_groups(session, community_id=community.id)
    existing = session.exec(
        select(Group.id).where(
            Group.workspace_id == workspace_id, Group.activity_id == request.activity_id
        )
    ).first()
    if existing is not None:
        log.info(
            "the activity has its temporary group already",
            extra={"activity_id": request.activity_id, "group_id": existing},
        )
        return None
    try:
        group_in = GroupCreate.model_validate(
            {
                "platform": request.platform,
                "external_id": placeholder_external_id(request.activity_id),
                "name": request.name.strip()[:NAME_MAX] or request.activity_id,
                "capacity": request.capacity,
                "kind": GroupKind.temporary,
                "dissolve_at": request.dissolve_at,
            }
        )
        group = create_group(
            session=session,
            community=community,
            group_in=group_in,
            at=at,
            activity_id=request.activity_id,
        )
    except (pydantic.ValidationError, Problem) as exc:
        log.warning(
            "temporary group request ignored: it cannot be satisfied; link a group by hand",
            extra={"activity_id": request.activity_id, "reason": _reason(exc)},
        )
        return None
    emit(
        session,
        ActivityGroupCreated(
            group_id=group.id,
            activity_id=request.activity_id,
            community_id=community.id,
            platform=group.platform,
            external_id=group.external_id,
            name=group.name,
            kind=group.kind,
            capacity=group.capacity,
            dissolve_at=group.dissolve_at,
            created_at=group.created_at,
        ),
        community_id=community.id,
        workspace_id=workspace_id,
    )
    return group


def _reason(exc: Exception) -> str:
    if isinstance(exc, pydantic.ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)
        )
    return str(getattr(exc, "detail", None) or exc)
