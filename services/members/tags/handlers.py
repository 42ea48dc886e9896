"""What tags hear: a content playbook's end action "add a tag"
(`content.member_tag_requested`). Members puts the tag on the member, creating the tag in the
community when it lacks one (category `custom`), once however often the request arrives.

Decided here, never retried:
- a community unknown in the event's workspace: `Unprocessable`, dead-lettered at once
  (content only knows communities members announced: a cross-tenant or corrupt event);
- a member not in that community and workspace: ignored with a warning (a merged-away member's
  tag goes to the survivor);
- a tag name members cannot hold (blank, longer than 40): ignored with a warning.
"""

import logging

import pydantic
from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.consumer import Unprocessable
from services.common.contracts import MemberTagRequested
from services.members.community.models import Community
from services.members.incentives.service import member_for_event
from services.members.tags import service
from services.members.tags.models import TagIn

log = logging.getLogger(__name__)


def on_member_tag_requested(session: Session, event: CloudEvent) -> None:
    data = MemberTagRequested.model_validate(event.data)
    community = session.get(Community, data.community_id)
    if community is None or community.workspace_id != event.workspaceid:
        raise Unprocessable(
            f"community {data.community_id} is unknown in workspace {event.workspaceid}"
        )
    about = {"member_id": data.member_id, "playbook_id": data.playbook_id, "run_id": data.run_id}
    member = member_for_event(
        session, event=event, member_id=data.member_id, community_id=community.id
    )
    if member is None:
        log.warning("tag request for a member not in the community ignored", extra=about)
        return
    try:
        name = TagIn(name=data.tag_name).name
    except pydantic.ValidationError:
        log.warning("tag request with a name no tag can have ignored", extra=about)
        return
    service.tag_member(
        session=session,
        community_id=community.id,
        workspace_id=community.workspace_id,
        member_id=member.id,
        tag_name=name,
        actor=f"playbook:{data.playbook_id}",
    )
