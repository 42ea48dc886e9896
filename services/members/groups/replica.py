"""What other services keep of a group (content, events and metrics answer from local copies):
every change of its name, capacity, state, position or dissolving time is announced as
`group.updated`, carrying the group's whole replicated state."""

from datetime import datetime

from sqlmodel import Session

from services.common.contracts import GroupUpdated
from services.members.groups.models import Group
from services.members.publishing import emit


def announce_changed(session: Session, *, group: Group, changed: list[str], at: datetime) -> None:
    """Tell the other services what `changed` on the group (nothing if nothing did)."""
    if not changed:
        return
    emit(
        session,
        GroupUpdated(
            group_id=group.id,
            community_id=group.community_id,
            platform=group.platform,
            external_id=group.external_id,
            name=group.name,
            kind=group.kind,
            state=group.state,
            capacity=group.capacity,
            position=group.position,
            dissolve_at=group.dissolve_at,
            segment_id=group.segment_id,
            changed=changed,
            updated_at=at,
        ),
        community_id=group.community_id,
        workspace_id=group.workspace_id,
    )
