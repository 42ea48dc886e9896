"""Members' events into the outbox: committed with the change that caused them, keyed by
community so one community's events keep their order."""

from collections.abc import Sequence
from typing import Protocol

from sqlmodel import Session

from services.common import outbox
from services.common.contracts import EventData

SOURCE = "/qunyun/members"


class Subject(Protocol):
    """What an event is about when it is about one member (a member row)."""

    id: str


class CommunityMember(Protocol):
    """A member row, as far as keying its events goes."""

    id: str
    workspace_id: str
    community_id: str


def emit(
    session: Session,
    data: EventData,
    *,
    member: Subject | None = None,
    community_id: str,
    workspace_id: str,
) -> None:
    """Put one of this service's events in the outbox, keyed by its community."""
    outbox.emit(
        session,
        data,
        source=SOURCE,
        workspace_id=workspace_id,
        community_id=community_id,
        subject=member.id if member else community_id,
    )


def emit_all(session: Session, items: Sequence[tuple[EventData, CommunityMember]]) -> None:
    """`emit` for many events about members (each item: the event and its member, whose
    community keys it), in one statement."""
    outbox.enqueue_all(
        session,
        [
            (
                data.to_event(
                    source=SOURCE,
                    workspace_id=member.workspace_id,
                    community_id=member.community_id,
                    subject=member.id,
                ),
                data.topic,
            )
            for data, member in items
        ],
    )
