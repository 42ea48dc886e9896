"""Turning due occurrences into publications, exactly once.

A periodic pass (one replica at a time, under the kit's job lock) takes the active schedules
whose `next_due_at` has come, row-locked, and for each occurrence up to now:

- further back than the grace period (the service was down): recorded as skipped, never
  published in a burst;
- otherwise one publication per target, inserted with the unique key (schedule, occurrence,
  target) and its `publication_due` event in the same transaction, so a publication is
  dispatched once or not at all, whichever replica runs and however often a pass is retried.

Then `next_due_at` moves past now. Every statement is a multi-row one, so a minute with
thousands of due occurrences costs a handful of round trips.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from services.common import outbox
from services.common.cloudevents import CloudEvent
from services.common.contracts import EventData, OccurrenceFailed, OccurrenceSkipped
from services.common.ids import new_id
from services.content.library.models import ContentItem, ContentStatus
from services.content.publishing import bulk, metrics, posts
from services.content.publishing.audience import AudienceUnavailable, segment_recipients
from services.content.publishing.models import (
    OccurrenceRecord,
    OccurrenceStatus,
    Publication,
)
from services.content.publishing.posts import Recipient
from services.content.replica.models import Community, Group
from services.content.schedules.models import Schedule, ScheduleState
from services.content.schedules.service import recurrence_of
from services.content.settings import ContentSettings

SOURCE = "/qunyun/content"
_occurrences = OccurrenceRecord.__table__  # type: ignore[attr-defined]
_publications = Publication.__table__  # type: ignore[attr-defined]

Audience = Callable[..., list[Recipient]]


@dataclass
class _Pass:
    """What one pass will write, gathered before any of it is inserted."""

    now: datetime
    settings: ContentSettings
    occurrences: list[dict[str, Any]] = field(default_factory=list)
    publications: list[dict[str, Any]] = field(default_factory=list)
    # Events wait for their row: only rows this pass really inserted are announced.
    occurrence_events: dict[str, tuple[EventData, str, str]] = field(default_factory=dict)
    publication_events: dict[str, tuple[EventData, str, str]] = field(default_factory=dict)
    lateness: dict[str, float] = field(default_factory=dict)
    # Where each schedule goes next, written in one statement (not one ORM update each).
    schedules: list[dict[str, Any]] = field(default_factory=list)


def dispatch_due(
    session: Session,
    now: datetime,
    *,
    settings: ContentSettings,
    audience: Audience = segment_recipients,
) -> int:
    """One pass; returns how many occurrences it handled."""
    schedules = list(
        session.exec(
            select(Schedule)
            .where(Schedule.state == ScheduleState.active, col(Schedule.next_due_at) <= now)
            .order_by(col(Schedule.next_due_at))
            .limit(settings.dispatch_batch)
            .with_for_update(skip_locked=True)
        )
    )
    if not schedules:
        return 0
    communities = {
        c.id: c
        for c in session.exec(
            select(Community).where(col(Community.id).in_({s.community_id for s in schedules}))
        )
    }
    items = {
        i.id: i
        for i in session.exec(
            select(ContentItem).where(
                col(ContentItem.id).in_({s.content_item_id for s in schedules if s.content_item_id})
            )
        )
    }
    groups: dict[str, Group] = {}
    by_community: defaultdict[str, list[Group]] = defaultdict(list)
    for group in session.exec(
        select(Group)
        .where(col(Group.community_id).in_(communities), Group.state != "dissolved")
        .order_by(col(Group.id))
    ):
        groups[group.id] = group
        by_community[group.community_id].append(group)

    work = _Pass(now=now, settings=settings)
    budget = settings.dispatch_batch
    for schedule in schedules:
        rec = recurrence_of(schedule)
        assert schedule.next_due_at is not None
        due = rec.between(schedule.next_due_at, now + timedelta(microseconds=1), limit=budget)
        queue_used: set[str] = set()
        for occurrence in due:
            _plan(
                session,
                work,
                schedule=schedule,
                community=communities[schedule.community_id],
                occurs_at=occurrence.utc,
                item=items.get(schedule.content_item_id or ""),
                groups=groups,
                community_groups=by_community[schedule.community_id],
                audience=audience,
                queue_used=queue_used,
            )
        full = len(due) >= budget
        budget = max(1, budget - len(due))
        upcoming = rec.first_after(due[-1].utc if full else now)
        work.schedules.append(
            {
                "id": schedule.id,
                "next_due_at": upcoming.utc if upcoming else None,
                "state": ScheduleState.active if upcoming else ScheduleState.ended,
            }
        )
    _write(session, work)
    return len(work.occurrences)


def _plan(
    session: Session,
    work: _Pass,
    *,
    schedule: Schedule,
    community: Community,
    occurs_at: datetime,
    item: ContentItem | None,
    groups: dict[str, Group],
    community_groups: list[Group],
    audience: Audience,
    queue_used: set[str],
) -> None:
    occurrence_id = new_id("occ")
    lateness = (work.now - occurs_at).total_seconds()
    row: dict[str, Any] = {
        "id": occurrence_id,
        "workspace_id": schedule.workspace_id,
        "community_id": schedule.community_id,
        "schedule_id": schedule.id,
        "occurs_at": occurs_at,
        "late": lateness > work.settings.publication_late_after_seconds,
        "handled_at": work.now,
        "reason": None,
        "content_item_id": None,
        "publications": 0,
    }
    work.occurrences.append(row)

    def skip(reason: str) -> None:
        row.update(status=OccurrenceStatus.skipped, reason=reason)
        work.occurrence_events[occurrence_id] = (
            OccurrenceSkipped(
                schedule_id=schedule.id,
                community_id=schedule.community_id,
                occurrence_at=occurs_at,
                reason=reason,
                skipped_at=work.now,
            ),
            schedule.workspace_id,
            schedule.id,
        )

    if lateness > work.settings.publication_grace_minutes * 60:
        return skip("missed")
    if schedule.queue_kind is not None:
        item = _next_in_queue(session, schedule=schedule, used=queue_used)
        if item is None:
            return skip("queue_empty")
        queue_used.add(item.id)
    if item is None or item.status != ContentStatus.approved:
        return skip("content_not_approved")
    row["content_item_id"] = item.id
    targets = _targets(schedule, groups=groups, community_groups=community_groups)
    recipients: list[Recipient] = []
    if schedule.target["kind"] == "segment":
        try:
            recipients = audience(
                work.settings,
                workspace_id=schedule.workspace_id,
                community_id=schedule.community_id,
                segment_id=schedule.target["segment_id"],
            )
        except AudienceUnavailable as exc:
            row.update(status=OccurrenceStatus.failed, reason=str(exc))
            work.occurrence_events[occurrence_id] = (
                OccurrenceFailed(
                    schedule_id=schedule.id,
                    community_id=schedule.community_id,
                    occurrence_at=occurs_at,
                    reason=str(exc),
                    failed_at=work.now,
                ),
                schedule.workspace_id,
                schedule.id,
            )
            return None
    if not targets and not recipients:
        return skip("no_targets")
    row.update(status=OccurrenceStatus.dispatched, publications=len(targets) + len(recipients))
    for group in targets:
        _publication(work, schedule, community, item, occurs_at, row, group=group)
    for recipient in recipients:
        _publication(work, schedule, community, item, occurs_at, row, recipient=recipient)
    return None


def _targets(
    schedule: Schedule, *, groups: dict[str, Group], community_groups: list[Group]
) -> list[Group]:
    target = schedule.target
    if target["kind"] == "groups":
        return [groups[g] for g in target["group_ids"] if g in groups]
    if target["kind"] == "community":
        platform = target.get("platform")
        return [g for g in community_groups if platform is None or g.platform == platform]
    return []


def _next_in_queue(session: Session, *, schedule: Schedule, used: set[str]) -> ContentItem | None:
    """The oldest approved item of the queue's kind this schedule has not used yet."""
    used_before = select(OccurrenceRecord.content_item_id).where(
        OccurrenceRecord.schedule_id == schedule.id,
        col(OccurrenceRecord.content_item_id).is_not(None),
    )
    query = select(ContentItem).where(
        ContentItem.workspace_id == schedule.workspace_id,
        ContentItem.community_id == schedule.community_id,
        ContentItem.kind == schedule.queue_kind,
        ContentItem.status == ContentStatus.approved,
        col(ContentItem.id).not_in(used_before),
    )
    if used:
        query = query.where(col(ContentItem.id).not_in(used))
    return session.exec(
        query.order_by(col(ContentItem.reviewed_at), col(ContentItem.id)).limit(1)
    ).first()


def _publication(
    work: _Pass,
    schedule: Schedule,
    community: Community,
    item: ContentItem,
    occurs_at: datetime,
    occurrence: dict[str, Any],
    *,
    group: Group | None = None,
    recipient: Recipient | None = None,
) -> None:
    row, event = posts.publication(
        community=community,
        item=item,
        occurs_at=occurs_at,
        now=work.now,
        expiry=timedelta(minutes=work.settings.publication_expiry_minutes),
        late=occurrence["late"],
        target_key=group.id if group else f"member:{recipient.member_id}",  # type: ignore[union-attr]
        group=group,
        recipient=recipient,
        schedule_id=schedule.id,
    )
    work.publications.append(row | {"_occurrence": occurrence["id"]})
    work.lateness[row["id"]] = (work.now - occurs_at).total_seconds()
    work.publication_events[row["id"]] = (event, schedule.workspace_id, row["target_key"])


def _write(session: Session, work: _Pass) -> None:
    bulk.update_schedules(session, work.schedules)
    new_occurrences = bulk.insert_new(session, _occurrences, work.occurrences)
    publications = [
        {k: v for k, v in p.items() if k != "_occurrence"}
        for p in work.publications
        if p["_occurrence"] in new_occurrences
    ]
    new_publications = bulk.insert_new(session, _publications, publications)
    events: list[tuple[CloudEvent, str]] = []
    announced = [
        (work.occurrence_events[o], o) for o in work.occurrence_events if o in new_occurrences
    ] + [(work.publication_events[p], p) for p in work.publication_events if p in new_publications]
    for (data, workspace_id, subject), _ in announced:
        community_id = getattr(data, "community_id", None)
        event = data.to_event(
            source=SOURCE, workspace_id=workspace_id, community_id=community_id, subject=subject
        )
        events.append((event, data.topic))
    outbox.enqueue_all(session, events)
    skipped = sum(
        1
        for o in work.occurrences
        if o["id"] in new_occurrences and o["status"] == OccurrenceStatus.skipped
    )
    metrics.PUBLICATIONS.labels("skipped").inc(skipped)
    metrics.PUBLICATIONS.labels("due").inc(len(new_publications))
    metrics.PUBLICATIONS.labels("dispatched").inc(len(new_publications))
    for publication_id in new_publications:
        metrics.LATENESS.observe(max(0.0, work.lateness[publication_id]))
