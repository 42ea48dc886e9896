"""Playbooks and their runs: one run per anchor, its steps planned when it starts, its
pending steps cancelled when the member leaves, is removed or banned."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from services.common.http.problems import field_problem
from services.common.ids import new_id
from services.content import problems
from services.content.library.models import ContentItem, ContentStatus
from services.content.playbooks import timing
from services.content.playbooks.models import (
    Anchor,
    Playbook,
    PlaybookCreate,
    PlaybookPublic,
    PlaybookRun,
    PlaybookStep,
    PlaybookUpdate,
    RunPublic,
    RunState,
    Step,
    StepPublic,
    StepState,
)
from services.content.replica.models import Community
from services.content.tables import now

_runs = PlaybookRun.__table__  # type: ignore[attr-defined]
_steps = PlaybookStep.__table__  # type: ignore[attr-defined]


def _check_approved(
    session: Session, *, workspace_id: str, community_id: str, steps: list[Step]
) -> None:
    """422 naming the first step content that is not approved content of this community."""
    wanted = {s.content_item_id for s in steps}
    approved = set(
        session.exec(
            select(ContentItem.id).where(
                ContentItem.workspace_id == workspace_id,
                ContentItem.community_id == community_id,
                ContentItem.status == ContentStatus.approved,
                col(ContentItem.id).in_(wanted),
            )
        )
    )
    for item_id in sorted(wanted - approved):
        raise problems.ContentNotApproved(content_item_id=item_id, state="not approved here")


def create_playbook(
    session: Session, *, community: Community, playbook_in: PlaybookCreate, actor: str
) -> Playbook:
    """A playbook whose steps send approved content of this community."""
    _check_approved(
        session,
        workspace_id=community.workspace_id,
        community_id=community.id,
        steps=playbook_in.steps,
    )
    playbook = Playbook(
        id=new_id("sop"),
        workspace_id=community.workspace_id,
        community_id=community.id,
        name=playbook_in.name,
        anchor=playbook_in.anchor,
        group_ids=playbook_in.group_ids,
        steps=[s.model_dump(mode="json") for s in playbook_in.steps],
        end_actions=playbook_in.end_actions.model_dump(mode="json"),
        created_by=actor,
    )
    session.add(playbook)
    session.flush()
    return playbook


def get_playbook(
    session: Session, *, workspace_id: str, playbook_id: str, for_update: bool = False
) -> Playbook:
    """The workspace's playbook (locked for a change if asked), or 404."""
    query = select(Playbook).where(
        Playbook.id == playbook_id, Playbook.workspace_id == workspace_id
    )
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    playbook = session.exec(query).one_or_none()
    if playbook is None:
        raise problems.playbook_not_found(playbook_id)
    return playbook


def update_playbook(session: Session, *, playbook: Playbook, update: PlaybookUpdate) -> None:
    """Change an active playbook (409 once deactivated). Runs under way keep their planned
    times; their pending steps past the new last step are cancelled (the others send the new
    definition of their position when due)."""
    if not playbook.active:
        raise problems.ContentStateConflict(what="playbook", state="inactive", action="edited")
    changes = update.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None:
            raise field_problem(key, f"{key} cannot be null")
    if update.steps is not None:
        _check_approved(
            session,
            workspace_id=playbook.workspace_id,
            community_id=playbook.community_id,
            steps=update.steps,
        )
        playbook.steps = [s.model_dump(mode="json") for s in update.steps]
        session.execute(
            _steps.update()
            .where(
                _steps.c.run_id.in_(
                    sa.select(_runs.c.id).where(
                        _runs.c.playbook_id == playbook.id, _runs.c.state == RunState.running
                    )
                ),
                _steps.c.state == StepState.pending,
                _steps.c.position >= len(update.steps),
            )
            .values(state=StepState.cancelled, reason="step removed", handled_at=now())
        )
    if update.name is not None:
        playbook.name = update.name
    if update.group_ids is not None:
        playbook.group_ids = update.group_ids
    if update.end_actions is not None:
        playbook.end_actions = update.end_actions.model_dump(mode="json")
    session.add(playbook)
    session.flush()


def deactivate_playbook(session: Session, *, playbook: Playbook) -> int:
    """Stop a playbook: no run starts from it again (nor follows another run into it), and its
    runs under way are cancelled with their pending steps. 409 if it is inactive already.
    Returns how many runs were cancelled."""
    if not playbook.active:
        raise problems.ContentStateConflict(what="playbook", state="inactive", action="deactivated")
    playbook.active = False
    session.add(playbook)
    session.flush()
    return cancel_runs(
        session,
        workspace_id=playbook.workspace_id,
        where=_runs.c.playbook_id == playbook.id,
        reason="playbook deactivated",
    )


def playbooks_for(
    session: Session, *, community_id: str, anchor: Anchor, group_id: str | None = None
) -> list[Playbook]:
    """Active playbooks that start on this anchor (and, if they list groups, in this group)."""
    found = session.exec(
        select(Playbook).where(
            Playbook.community_id == community_id,
            Playbook.anchor == anchor,
            col(Playbook.active).is_(True),
        )
    )
    return [p for p in found if not p.group_ids or group_id in p.group_ids]


def start_run(
    session: Session,
    *,
    playbook: Playbook,
    timezone: str,
    anchor_key: str,
    anchored_at: datetime,
    member_id: str | None = None,
    group_id: str | None = None,
    platform: str | None = None,
    external_id: str | None = None,
) -> str | None:
    """Start a run with its steps planned; None if this anchor already has one."""
    run_id = new_id("run")
    inserted = session.execute(
        insert(_runs)
        .values(
            id=run_id,
            workspace_id=playbook.workspace_id,
            community_id=playbook.community_id,
            playbook_id=playbook.id,
            anchor_key=anchor_key,
            member_id=member_id,
            group_id=group_id,
            platform=platform,
            external_id=external_id,
            anchored_at=anchored_at,
            state=RunState.running,
        )
        .on_conflict_do_nothing()
        .returning(_runs.c.id)
    ).scalar_one_or_none()
    if inserted is None:
        return None
    session.execute(
        _steps.insert(),
        [
            {
                "run_id": run_id,
                "position": position,
                "workspace_id": playbook.workspace_id,
                "due_at": timing.due_at(
                    Step.model_validate(step), anchored_at=anchored_at, timezone=timezone
                ),
                "state": StepState.pending,
            }
            for position, step in enumerate(playbook.steps)
        ],
    )
    return run_id


def cancel_runs(session: Session, *, workspace_id: str, where: Any, reason: str) -> int:
    """Cancel the running runs matching `where` and their pending steps."""
    cancelled = session.execute(
        _runs.update()
        .where(_runs.c.workspace_id == workspace_id, _runs.c.state == RunState.running, where)
        .values(state=RunState.cancelled, ended_at=now())
        .returning(_runs.c.id)
    ).scalars()
    run_ids = list(cancelled)
    if run_ids:
        session.execute(
            _steps.update()
            .where(_steps.c.run_id.in_(run_ids), _steps.c.state == StepState.pending)
            .values(state=StepState.cancelled, reason=reason, handled_at=now())
        )
    return len(run_ids)


def runs_query(*, playbook: Playbook) -> Any:
    """The playbook's runs; page them newest first by `id`."""
    return select(PlaybookRun).where(
        PlaybookRun.playbook_id == playbook.id, PlaybookRun.workspace_id == playbook.workspace_id
    )


def runs_public(session: Session, *, runs: list[PlaybookRun]) -> list[RunPublic]:
    """Some runs (one page's), each with its steps' state."""
    steps: dict[str, list[StepPublic]] = {r.id: [] for r in runs}
    if not steps:
        return []
    for step in session.exec(
        select(PlaybookStep)
        .where(col(PlaybookStep.run_id).in_(steps))
        .order_by(col(PlaybookStep.run_id), col(PlaybookStep.position))
    ):
        steps[step.run_id].append(StepPublic.model_validate(step, from_attributes=True))
    return [
        RunPublic(
            id=r.id,
            playbook_id=r.playbook_id,
            member_id=r.member_id,
            group_id=r.group_id,
            anchored_at=r.anchored_at,
            state=r.state,  # type: ignore[arg-type]
            ended_at=r.ended_at,
            steps=steps[r.id],
        )
        for r in runs
    ]


def public(playbook: Playbook) -> PlaybookPublic:
    return PlaybookPublic.model_validate(playbook, from_attributes=True)


def member_runs(member_id: str) -> Any:
    return _runs.c.member_id == member_id


def group_runs(group_id: str) -> Any:
    return _runs.c.group_id == group_id


def member_in_group_runs(group_id: str, platform: str, external_id: str) -> Any:
    return sa.and_(
        _runs.c.group_id == group_id,
        _runs.c.platform == platform,
        _runs.c.external_id == external_id,
    )
