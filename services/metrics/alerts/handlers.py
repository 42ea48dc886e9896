"""Content's word that a publication was not said, for the publication-failure alert."""

from sqlmodel import Session

from services.common.cloudevents import CloudEvent
from services.common.contracts import PublicationExpired, PublicationFailed
from services.metrics.alerts.publications import record_unsaid


def on_publication_failed(session: Session, event: CloudEvent) -> None:
    data = PublicationFailed.model_validate(event.data)
    record_unsaid(
        session,
        workspace_id=event.workspaceid,
        publication_id=data.publication_id,
        community_id=data.community_id,
        group_id=data.group_id,
        outcome="failed",
        error=data.error,
        at=data.failed_at,
    )


def on_publication_expired(session: Session, event: CloudEvent) -> None:
    data = PublicationExpired.model_validate(event.data)
    record_unsaid(
        session,
        workspace_id=event.workspaceid,
        publication_id=data.publication_id,
        community_id=data.community_id,
        group_id=data.group_id,
        outcome="expired",
        error=None,
        at=data.expired_at,
    )
