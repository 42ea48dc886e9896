"""Content response (rule 10): for each publication, the replies to it and the members'
messages in its group in the two clock hours from its hour, against the same two hours on
the same weekday of the 4 weeks before; by content kind and value dimension; and the mix of
value dimensions published (rule 13)."""

from collections import defaultdict
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from services.common.clock import as_utc, day_bounds
from services.metrics.content_response.models import (
    Publication,
    PublicationResponse,
    ResponseGroup,
)
from services.metrics.replica.models import Community
from services.metrics.rollups.daily import ratio

WINDOW = timedelta(hours=2)
BASELINE_WEEKS = 4
UNKNOWN = "unknown"


def record_publication(
    session: Session,
    *,
    workspace_id: str,
    publication_id: str,
    community_id: str,
    group_id: str,
    content_item_id: str,
    content_kind: str | None,
    value_dimension: str | None,
    external_message_id: str | None,
    published_at: datetime,
) -> None:
    """Keep a publication in a group, once."""
    session.execute(
        insert(Publication.__table__)  # type: ignore[attr-defined]
        .values(
            publication_id=publication_id,
            workspace_id=workspace_id,
            community_id=community_id,
            group_id=group_id,
            content_item_id=content_item_id,
            content_kind=content_kind,
            value_dimension=value_dimension,
            external_message_id=external_message_id,
            published_at=as_utc(published_at),
        )
        .on_conflict_do_nothing()
    )


def _hour(at: datetime) -> datetime:
    return as_utc(at).replace(minute=0, second=0, microsecond=0)


def _member_messages(session: Session, group_id: str, start: datetime) -> int:
    return int(
        session.execute(
            sa.text(
                "SELECT coalesce(sum(member_messages), 0) FROM group_hour "
                "WHERE group_id = :g AND hour >= :start AND hour < :end"
            ),
            {"g": group_id, "start": start, "end": start + WINDOW},
        ).scalar_one()
    )


def respond(session: Session, publication: Publication) -> PublicationResponse:
    """The response one publication drew."""
    start = _hour(publication.published_at)
    replies, repliers = 0, 0
    if publication.external_message_id:
        params = {"g": publication.group_id, "x": publication.external_message_id}
        replies = session.execute(
            sa.text(
                "SELECT coalesce(sum(replies), 0) FROM reply_target "
                "WHERE group_id = :g AND message_external_id = :x"
            ),
            params,
        ).scalar_one()
        repliers = session.execute(
            sa.text(
                "SELECT count(*) FROM reply_target_speaker "
                "WHERE group_id = :g AND message_external_id = :x"
            ),
            params,
        ).scalar_one()
    messages = _member_messages(session, publication.group_id, start)
    before = [
        _member_messages(session, publication.group_id, start - timedelta(weeks=k))
        for k in range(1, BASELINE_WEEKS + 1)
    ]
    baseline = sum(before) / BASELINE_WEEKS
    return PublicationResponse(
        publication_id=publication.publication_id,
        group_id=publication.group_id,
        content_item_id=publication.content_item_id,
        content_kind=publication.content_kind,
        value_dimension=publication.value_dimension,
        published_at=publication.published_at,
        replies=int(replies),
        repliers=int(repliers),
        messages_2h=messages,
        baseline_2h=round(baseline, 2),
        lift=ratio(messages, baseline),
    )


def _grouped(responses: list[PublicationResponse], key: str) -> list[ResponseGroup]:
    groups: defaultdict[str, list[PublicationResponse]] = defaultdict(list)
    for response in responses:
        groups[getattr(response, key) or UNKNOWN].append(response)
    result = []
    for name, members in sorted(groups.items()):
        lifts = [r.lift for r in members if r.lift is not None]
        n = len(members)
        result.append(
            ResponseGroup(
                key=name,
                publications=n,
                mean_replies=round(sum(r.replies for r in members) / n, 2),
                mean_repliers=round(sum(r.repliers for r in members) / n, 2),
                mean_messages_2h=round(sum(r.messages_2h for r in members) / n, 2),
                mean_lift=round(sum(lifts) / len(lifts), 4) if lifts else None,
            )
        )
    return result


def content_response(
    session: Session, *, community: Community, first: date, last: date
) -> tuple[list[PublicationResponse], list[ResponseGroup], list[ResponseGroup], dict[str, float]]:
    """Every publication of the range with its response, grouped by kind and by dimension,
    and the share of each value dimension among them."""
    start = day_bounds(first, community.timezone).start
    end = day_bounds(last, community.timezone).end
    publications = session.exec(
        select(Publication)
        .where(
            Publication.community_id == community.community_id,
            col(Publication.published_at) >= start,
            col(Publication.published_at) < end,
        )
        .order_by(col(Publication.published_at), col(Publication.publication_id))
    ).all()
    responses = [respond(session, p) for p in publications]
    mix: defaultdict[str, int] = defaultdict(int)
    for p in publications:
        mix[p.value_dimension or UNKNOWN] += 1
    shares = {k: ratio(v, len(publications)) or 0.0 for k, v in sorted(mix.items())}
    return (
        responses,
        _grouped(responses, "content_kind"),
        _grouped(responses, "value_dimension"),
        shares,
    )
