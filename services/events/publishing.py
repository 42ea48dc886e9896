"""Every event this service publishes goes through here: into the outbox, in the caller's
transaction, keyed by the community so one community's events stay in order."""

from sqlmodel import Session

from services.common import outbox
from services.common.contracts import EventData

SOURCE = "/qunyun/events"


def publish(
    session: Session,
    data: EventData,
    *,
    workspace_id: str,
    community_id: str,
    subject: str | None = None,
) -> None:
    outbox.emit(
        session,
        data,
        source=SOURCE,
        workspace_id=workspace_id,
        community_id=community_id,
        subject=subject,
    )
