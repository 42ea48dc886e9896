"""Sending due playbook steps: one publication per step, exactly once (the step's row lock
and its state, and a unique key on the run and step), then the run's end actions when its
last step is done."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, func, select

from services.common import outbox
from services.common.cloudevents import CloudEvent
from services.common.contracts import EventData, MemberTagRequested
from services.content.library.models import ContentItem, ContentStatus
from services.content.playbooks import service
from services.content.playbooks.models import (
    Playbook,
    PlaybookRun,
    PlaybookStep,
    RunState,
    Step,
    StepState,
)
from services.content.publishing import metrics, posts
from services.content.publishing.dispatch import SOURCE
from services.content.publishing.models import Publication
from services.content.replica.models import Community, Group
from services.content.settings import ContentSettings

_publications = Publication.__table__  # type: ignore[attr-defined]


def send_due_steps(session: Session, now: datetime, *, settings: ContentSettings) -> int:
    """One pass; returns how many steps it handled."""
    due = list(
        session.exec(
            select(PlaybookStep, PlaybookRun, Playbook)
            .join(PlaybookRun, col(PlaybookRun.id) == col(PlaybookStep.run_id))
            .join(Playbook, col(Playbook.id) == col(PlaybookRun.playbook_id))
            .where(
                PlaybookStep.state == StepState.pending,
                col(PlaybookStep.due_at) <= now,
                PlaybookRun.state == RunState.running,
            )
            .order_by(col(PlaybookStep.due_at))
            .limit(1000)
            .with_for_update(of=PlaybookStep, skip_locked=True)
        )
    )
    if not due:
        return 0
    communities = {
        c.id: c
        for c in session.exec(
            select(Community).where(col(Community.id).in_({r.community_id for _, r, _ in due}))
        )
    }
    steps = [Step.model_validate(p.steps[s.position]) for s, _, p in due]
    items = {
        i.id: i
        for i in session.exec(
            select(ContentItem).where(col(ContentItem.id).in_({s.content_item_id for s in steps}))
        )
    }
    groups = {
        g.id: g
        for g in session.exec(
            select(Group).where(col(Group.id).in_({r.group_id for _, r, _ in due if r.group_id}))
        )
    }
    rows: list[dict[str, Any]] = []
    events: dict[str, tuple[EventData, str]] = {}
    for (step, run, _), definition in zip(due, steps, strict=True):
        community = communities[run.community_id]
        item = items.get(definition.content_item_id)
        group = groups.get(run.group_id or "")
        step.handled_at = now
        if (now - step.due_at).total_seconds() > settings.publication_grace_minutes * 60:
            step.state, step.reason = StepState.skipped, "missed"
        elif item is None or item.status != ContentStatus.approved:
            step.state, step.reason = StepState.skipped, "content_not_approved"
        elif definition.to == "group" and (group is None or group.state == "dissolved"):
            step.state, step.reason = StepState.skipped, "no_group"
        elif definition.to == "member" and not (run.platform and run.external_id):
            step.state, step.reason = StepState.skipped, "no_identity"
        else:
            row, event = posts.publication(
                community=community,
                item=item,
                occurs_at=step.due_at,
                now=now,
                expiry=timedelta(minutes=settings.publication_expiry_minutes),
                late=(now - step.due_at).total_seconds() > settings.publication_late_after_seconds,
                target_key=f"step:{step.position}",
                group=group if definition.to == "group" else None,
                recipient=(
                    posts.Recipient(run.member_id, run.platform, run.external_id)  # type: ignore[arg-type]
                    if definition.to == "member"
                    else None
                ),
                playbook_run_id=run.id,
            )
            rows.append(row)
            events[row["id"]] = (event, run.workspace_id)
            step.state, step.publication_id = StepState.sent, row["id"]
        session.add(step)
    inserted = set()
    if rows:
        inserted = set(
            session.execute(
                insert(_publications).on_conflict_do_nothing().returning(_publications.c.id), rows
            ).scalars()
        )
    built: list[tuple[CloudEvent, str]] = []
    for publication_id in inserted:
        data, workspace_id = events[publication_id]
        built.append(
            (
                data.to_event(
                    source=SOURCE,
                    workspace_id=workspace_id,
                    community_id=getattr(data, "community_id", None),
                    subject=publication_id,
                ),
                data.topic,
            )
        )
    session.flush()
    runs = {r.id: (r, p) for _, r, p in due}
    for run, playbook in runs.values():
        built.extend(
            _finish_if_done(session, run=run, playbook=playbook, now=now, communities=communities)
        )
    outbox.enqueue_all(session, built)
    metrics.PUBLICATIONS.labels("due").inc(len(inserted))
    metrics.PUBLICATIONS.labels("dispatched").inc(len(inserted))
    return len(due)


def _finish_if_done(
    session: Session,
    *,
    run: PlaybookRun,
    playbook: Playbook,
    now: datetime,
    communities: dict[str, Community],
) -> list[tuple[CloudEvent, str]]:
    """Complete a run with no pending step left, and carry out its end actions."""
    pending = session.exec(
        select(func.count())
        .select_from(PlaybookStep)
        .where(PlaybookStep.run_id == run.id, PlaybookStep.state == StepState.pending)
    ).one()
    if pending:
        return []
    run.state, run.ended_at = RunState.completed, now
    session.add(run)
    actions = playbook.end_actions
    events: list[tuple[CloudEvent, str]] = []
    if actions.get("add_tag") and run.member_id:
        data = MemberTagRequested(
            member_id=run.member_id,
            community_id=run.community_id,
            tag_name=actions["add_tag"],
            playbook_id=playbook.id,
            run_id=run.id,
            requested_at=now,
        )
        events.append(
            (
                data.to_event(
                    source=SOURCE,
                    workspace_id=run.workspace_id,
                    community_id=run.community_id,
                    subject=run.member_id,
                ),
                data.topic,
            )
        )
    following = session.get(Playbook, actions.get("start_playbook_id") or "")
    if following is not None and following.community_id == run.community_id and following.active:
        service.start_run(
            session,
            playbook=following,
            timezone=communities[run.community_id].timezone,
            anchor_key=run.anchor_key,
            anchored_at=now,
            member_id=run.member_id,
            group_id=run.group_id,
            platform=run.platform,
            external_id=run.external_id,
        )
    return events
