"""What the events service hears about temporary groups: members made the group an activity
asked for (`group.activity_group_created`), so the activity is linked to it and everyone
confirmed so far is invited, as when an operator links a group by hand.

Idempotent: a repeated answer finds the activity linked to that group and changes nothing. An
activity an operator linked to another group meanwhile keeps it (logged; the unused temporary
group dissolves at its time). An activity unknown here, or a group dissolved before the
answer arrived, is ignored with a warning."""

import logging

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, select

from services.common.clock import now
from services.common.cloudevents import CloudEvent
from services.common.consumer import Handler
from services.common.contracts import ActivityGroupCreated
from services.events.activities.models import Activity
from services.events.groups.service import link_group
from services.events.replica.models import ChatGroup, Community

log = logging.getLogger(__name__)


def on_activity_group_created(session: Session, event: CloudEvent) -> None:
    data = ActivityGroupCreated.model_validate(event.data)
    about = {"activity_id": data.activity_id, "group_id": data.group_id}
    activity = session.exec(
        select(Activity)
        .where(
            Activity.id == data.activity_id,
            Activity.workspace_id == event.workspaceid,
            Activity.community_id == data.community_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    community = session.get(Community, data.community_id)
    if activity is None or community is None or community.workspace_id != event.workspaceid:
        log.warning("a temporary group for an activity unknown here; ignored", extra=about)
        return
    if activity.group_id == data.group_id:
        return  # linked already: a repeated answer
    if activity.group_id is not None:
        log.info(
            "the activity was linked to another group meanwhile; it keeps that one",
            extra=about | {"linked_group_id": activity.group_id},
        )
        return
    _know_group(session, event, data)
    group = session.get(ChatGroup, data.group_id)
    if group is None or group.state == "dissolved":
        log.warning("the activity's temporary group is dissolved already; ignored", extra=about)
        return
    invited = link_group(
        session, community=community, activity=activity, group_id=data.group_id, now=now()
    )
    log.info("temporary group linked to its activity", extra=about | {"invited": invited})


def _know_group(session: Session, event: CloudEvent, data: ActivityGroupCreated) -> None:
    """The replica has the group from `group.created`, which members published just before on
    the same partition; this keeps the link from depending on that order all the same."""
    session.execute(
        insert(ChatGroup.__table__)  # type: ignore[attr-defined]
        .values(
            id=data.group_id,
            workspace_id=event.workspaceid,
            community_id=data.community_id,
            platform=data.platform,
            external_id=data.external_id,
            name=data.name,
            kind=data.kind,
            state="open",
            capacity=data.capacity,
            dissolve_at=data.dissolve_at,
            updated_at=data.created_at,
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )


HANDLERS: dict[str, Handler] = {ActivityGroupCreated.type: on_activity_group_created}
