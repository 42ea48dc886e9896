"""What became of dispatched publications: the bot's result (from the inbound door, via
Kafka), or expiry when no result comes in time."""

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from services.common import outbox
from services.common.cloudevents import CloudEvent
from services.common.contracts import (
    PublicationExpired,
    PublicationFailed,
    PublicationPublishedV2,
    PublicationResultReported,
)
from services.content.library.models import ContentItem, ContentRevision
from services.content.publishing import metrics
from services.content.publishing.dispatch import SOURCE
from services.content.publishing.models import Publication, PublicationStatus
from services.content.settings import ContentSettings

log = logging.getLogger(__name__)
_publications = Publication.__table__  # type: ignore[attr-defined]
# A result may still come after expiry (the bot was slow, the post was said): it wins, since
# it is what happened. A result after a result changes nothing.
_OPEN = (PublicationStatus.dispatched, PublicationStatus.expired)


def on_result_reported(session: Session, event: CloudEvent) -> None:
    """Record a bot's result once; a repeated or contradicting later result changes nothing."""
    data = PublicationResultReported.model_validate(event.data)
    publication = session.exec(
        select(Publication)
        .where(Publication.id == data.publication_id, Publication.workspace_id == event.workspaceid)
        .with_for_update()
    ).one_or_none()
    if publication is None:
        log.warning("result for an unknown publication", extra={"publication": data.publication_id})
        return
    if publication.status not in _OPEN:
        return
    publication.status = data.status
    publication.result_at = event.time
    publication.external_message_id = data.external_message_id
    publication.error = data.error
    session.add(publication)
    result: PublicationPublishedV2 | PublicationFailed
    if data.status == "published":
        kind, dimension = _kind_and_dimension(session, publication)
        result = PublicationPublishedV2(
            publication_id=publication.id,
            schedule_id=publication.schedule_id,
            playbook_run_id=publication.playbook_run_id,
            community_id=publication.community_id,
            content_item_id=publication.content_item_id,
            group_id=publication.group_id,
            member_id=publication.member_id,
            platform=publication.platform,
            external_id=publication.external_id,
            external_message_id=data.external_message_id,
            published_at=event.time,
            content_kind=kind,
            value_dimension=dimension,
        )
    else:
        result = PublicationFailed(
            publication_id=publication.id,
            schedule_id=publication.schedule_id,
            playbook_run_id=publication.playbook_run_id,
            community_id=publication.community_id,
            group_id=publication.group_id,
            member_id=publication.member_id,
            error=data.error,
            failed_at=event.time,
        )
    outbox.emit(
        session,
        result,
        source=SOURCE,
        workspace_id=publication.workspace_id,
        community_id=publication.community_id,
        subject=publication.id,
    )
    metrics.PUBLICATIONS.labels(data.status).inc()


def _kind_and_dimension(session: Session, publication: Publication) -> tuple[str, str | None]:
    """The kind and value dimension of the item as it was at the revision published (an edit
    since keeps the earlier state as a revision)."""
    earlier = session.exec(
        select(ContentRevision).where(
            ContentRevision.item_id == publication.content_item_id,
            ContentRevision.revision == publication.content_revision,
        )
    ).first()
    if earlier is not None:
        return earlier.kind, earlier.value_dimension
    item = session.get(ContentItem, publication.content_item_id)
    return (item.kind, item.value_dimension) if item is not None else ("unknown", None)


def expire_overdue(session: Session, now: datetime, *, settings: ContentSettings) -> int:
    """Dispatched publications with no result in time become expired, and say so."""
    cutoff = now - timedelta(minutes=settings.publication_expiry_minutes)
    overdue = (
        sa.select(_publications.c.id)
        .where(
            _publications.c.status == PublicationStatus.dispatched,
            _publications.c.dispatched_at < cutoff,
        )
        .order_by(_publications.c.dispatched_at)
        .limit(5000)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(
        _publications.update()
        .where(_publications.c.id.in_(overdue.scalar_subquery()))
        .values(status=PublicationStatus.expired, result_at=now)
        .returning(
            _publications.c.id,
            _publications.c.workspace_id,
            _publications.c.community_id,
            _publications.c.schedule_id,
            _publications.c.playbook_run_id,
            _publications.c.group_id,
            _publications.c.member_id,
            _publications.c.dispatched_at,
        )
    ).all()
    events = []
    for row in rows:
        data = PublicationExpired(
            publication_id=row.id,
            schedule_id=row.schedule_id,
            playbook_run_id=row.playbook_run_id,
            community_id=row.community_id,
            group_id=row.group_id,
            member_id=row.member_id,
            dispatched_at=row.dispatched_at,
            expired_at=now,
        )
        event = data.to_event(
            source=SOURCE,
            workspace_id=row.workspace_id,
            community_id=row.community_id,
            subject=row.id,
        )
        events.append((event, data.topic))
    outbox.enqueue_all(session, events)
    metrics.PUBLICATIONS.labels("expired").inc(len(rows))
    return len(rows)
