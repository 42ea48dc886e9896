"""The content service's publications → metrics' record of them.

Metrics reads `publication_published` tolerantly: only the fields it needs, and
`content_kind` and `value_dimension` when the event carries them. v2, which content sends,
does; v1 (still on the topic from before) does not, so its publications count under
`unknown` by kind and by value dimension.
"""

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.metrics import telemetry
from services.metrics.alerts.publications import said_after_all
from services.metrics.content_response.service import record_publication


class _Published(BaseModel):
    """What metrics reads of `publication_published` v1 and v2 (a reader, not the contract)."""

    model_config = ConfigDict(extra="ignore")

    publication_id: str
    community_id: str
    content_item_id: str
    group_id: str | None
    external_message_id: str | None = None
    content_kind: str | None = None
    value_dimension: str | None = None
    published_at: datetime


def on_publication_published(session: Session, event: CloudEvent) -> None:
    data = _Published.model_validate(event.data)
    said_after_all(session, publication_id=data.publication_id)
    if data.group_id is None:
        return  # a one-to-one message to a member: no group to measure
    record_publication(
        session,
        workspace_id=event.workspaceid,
        publication_id=data.publication_id,
        community_id=data.community_id,
        group_id=data.group_id,
        content_item_id=data.content_item_id,
        content_kind=data.content_kind,
        value_dimension=data.value_dimension,
        external_message_id=data.external_message_id,
        published_at=data.published_at,
    )
    telemetry.PUBLICATIONS.inc()
