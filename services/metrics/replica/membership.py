"""Bots' joins and leaves of groups (`qunyun.ingest.messages.v1`), or parked until the group
is known: like chat, they travel on another topic than the `group.created` that registers
their group, so on a fresh deploy, a replay or a race they may come first. A parked one is
replayed by the registration of its group (`rollups.replay`), in the order they happened."""

from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.contracts import GroupMemberJoined, GroupMemberLeft
from services.metrics import telemetry
from services.metrics.parking import service as parking
from services.metrics.replica import service
from services.metrics.replica.models import speaker_key

MEMBERSHIP_TYPES = (GroupMemberJoined.type, GroupMemberLeft.type)


def membership_changed(session: Session, event: CloudEvent, *, park: bool = True) -> bool:
    """Apply one join or leave to its group; False when it changed nothing or, with `park`,
    was parked because its group (or the group's community) is not known yet."""
    data: GroupMemberJoined | GroupMemberLeft
    if event.type == GroupMemberJoined.type:
        data = GroupMemberJoined.model_validate(event.data)
    else:
        data = GroupMemberLeft.model_validate(event.data)
    if park and not service.group_known(
        session,
        workspace_id=event.workspaceid,
        platform=data.platform,
        external_id=data.group_external_id,
    ):
        # The second look under the parking lock: a group registered meanwhile is seen here,
        # or its registration sees what is parked (parking.service explains the lock).
        parking.hold_workspaces(session, [event.workspaceid], exclusive=False)
        if not service.group_known(
            session,
            workspace_id=event.workspaceid,
            platform=data.platform,
            external_id=data.group_external_id,
        ):
            if parking.park_on_group(
                session, event=event, platform=data.platform, external_id=data.group_external_id
            ):
                telemetry.PARKED.labels(event.type, "parked").inc()
            return False
    joined = isinstance(data, GroupMemberJoined)
    invited = isinstance(data, GroupMemberJoined) and data.inviter_external_id is not None
    return service.group_membership_changed(
        session,
        workspace_id=event.workspaceid,
        platform=data.platform,
        group_external_id=data.group_external_id,
        speaker=speaker_key(data.platform, data.sender_external_id),
        present=joined,
        at=data.occurred_at,
        invited=invited,
    )
