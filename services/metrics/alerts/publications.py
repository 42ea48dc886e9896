"""Publications the bot did not say, kept for the publication-failure alert: content's
`publication_failed` (the bot could not post) and `publication_expired` (no result in time).
A `published` result that comes after an expiry (content lets it win: it is what happened)
takes its publication off the list."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from services.common.clock import as_utc
from services.metrics.alerts.models import PublicationFailure
from services.metrics.alerts.rules import Unsaid

_failure = PublicationFailure.__table__  # type: ignore[attr-defined]


def record_unsaid(
    session: Session,
    *,
    workspace_id: str,
    publication_id: str,
    community_id: str,
    group_id: str | None,
    outcome: str,
    error: str | None,
    at: datetime,
) -> None:
    """Keep one publication not said; a failure reported after its expiry replaces it."""
    statement = insert(_failure).values(
        publication_id=publication_id,
        workspace_id=workspace_id,
        community_id=community_id,
        group_id=group_id or "",
        outcome=outcome,
        error=error,
        at=as_utc(at),
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["publication_id"],
            set_={"outcome": statement.excluded.outcome, "error": statement.excluded.error},
            where=_failure.c.outcome != statement.excluded.outcome,
        )
    )


def said_after_all(session: Session, *, publication_id: str) -> None:
    """A publication was said: whatever was recorded of it failing no longer counts."""
    session.execute(sa.delete(_failure).where(_failure.c.publication_id == publication_id))


def unsaid_by_group(session: Session, *, community_id: str, since: datetime) -> dict[str, Unsaid]:
    """Publications not said since `since`, by group ("" for one-to-one messages)."""
    rows = session.execute(
        sa.select(
            _failure.c.group_id,
            sa.func.count().filter(_failure.c.outcome == "failed"),
            sa.func.count().filter(_failure.c.outcome == "expired"),
        )
        .where(_failure.c.community_id == community_id, _failure.c.at >= since)
        .group_by(_failure.c.group_id)
    ).all()
    return {group_id: Unsaid(failed, expired) for group_id, failed, expired in rows}
