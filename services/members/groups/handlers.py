"""What bots and the rest of members report about groups: joins and leaves in the chats,
members who left the community (their held places are given back), and activities asking for
a temporary group (requests.py)."""

from sqlmodel import Session

from services.common.clock import now
from services.common.cloudevents import CloudEvent
from services.common.contracts import (
    GroupMemberJoined,
    GroupMemberLeft,
    MemberStatusChanged,
    TemporaryGroupRequested,
)
from services.members.activity.senders import sender_of
from services.members.groups.capacity import (
    lock_community_groups,
    open_assignment,
    settle_community,
)
from services.members.groups.models import AssignmentStatus, GroupState
from services.members.groups.requests import group_for_activity
from services.members.groups.roster import record_join, record_leave
from services.members.vocabulary import GONE


def _on_reported(session: Session, event: CloudEvent, *, joined: bool) -> None:
    data = (GroupMemberJoined if joined else GroupMemberLeft).model_validate(event.data)
    resolved = sender_of(session, event, data)
    if resolved is None:
        return
    group, member = resolved
    lock_community_groups(session, community_id=group.community_id)
    session.refresh(group)
    if group.state == GroupState.dissolved:
        return  # the chat is gone as far as the community is concerned
    record = record_join if joined else record_leave
    if record(session=session, group=group, member=member, at=data.occurred_at):
        settle_community(session, community_id=group.community_id, at=now())  # how full it is now


def on_member_joined(session: Session, event: CloudEvent) -> None:
    _on_reported(session, event, joined=True)


def on_member_gone(session: Session, event: CloudEvent) -> None:
    """A member removed, banned or merged away gives back the place held for them."""
    data = MemberStatusChanged.model_validate(event.data)
    if data.to_status not in GONE:
        return
    lock_community_groups(session, community_id=data.community_id)
    held = open_assignment(session, member_id=data.member_id)
    if held is None:
        return
    held.status, held.closed_at = AssignmentStatus.cancelled, now()
    session.add(held)
    session.flush()
    settle_community(session, community_id=data.community_id, at=now())


def on_member_left(session: Session, event: CloudEvent) -> None:
    _on_reported(session, event, joined=False)


def on_temporary_group_requested(session: Session, event: CloudEvent) -> None:
    """An activity asks for its temporary group: registered once, announced, answered."""
    request = TemporaryGroupRequested.model_validate(event.data)
    group_for_activity(session, workspace_id=event.workspaceid, request=request, at=now())
