"""Chat messages folded as a set: what `on_message_posted` of activity, the lifecycle and
moderation do message by message, done for a whole batch with a constant number of statements.

The batch is read at once (groups, senders, the members locked, their recent days, early
messages and today's message points), the rules run in Python message by message in the
batch's order, and the results are written at once (message records, daily counts, points).
Only what is rare touches the database inside the loop: a violation (its case and the strike
ladder, climbed in message order because each case is written before the next message is
judged) and a lifecycle stage change. The outcome is the one the per-message handlers give,
message by message: a member muted or removed by their third message earns nothing for their
fourth, and a message's points are paid once.

Where it differs from one message at a time: rule badges are checked once per member at the
end of the batch (a member removed later in the batch gets no badge for points earned before
the removal); level and badge events follow the batch's violation events in the outbox; and a
sender another process registers at the same moment fails the batch's insert, so the batch is
split and that message takes the per-event path.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from services.common import clock
from services.common.cloudevents import CloudEvent
from services.common.contracts import ChatMessagePosted, MemberStageChanged
from services.members.activity.models import ActivityDay, ActivityMessage
from services.members.activity.senders import senders_of_all
from services.members.activity.service import log, reported_time
from services.members.community.models import Community, Member
from services.members.community.service import get_community
from services.members.community.settings import CommunitySettings
from services.members.groups.models import Group
from services.members.incentives import ledger
from services.members.incentives.models import PointsEntry
from services.members.lifecycle.models import StageChange
from services.members.lifecycle.service import ORDER, furthest_stage, stage_change
from services.members.moderation.detection import Match, violations
from services.members.moderation.service import record_violation
from services.members.publishing import emit_all
from services.members.vocabulary import IN_GOOD_STANDING, Stage


@dataclass
class _Message:
    event: CloudEvent
    data: ChatMessagePosted
    group: Group
    member: Member
    community: Community
    at: datetime
    day: date
    found: list[Match]
    recorded: bool = False


@dataclass
class _Memory:
    """What the per-message handlers would read from the database, loaded once and kept up to
    date as the batch is folded."""

    days: dict[str, set[date]] = field(default_factory=lambda: defaultdict(set))
    early: Counter[str] = field(default_factory=Counter)
    window_end: dict[str, datetime] = field(default_factory=dict)
    earned: Counter[tuple[str, date]] = field(default_factory=Counter)


def fold_messages(session: Session, events: Sequence[CloudEvent]) -> None:
    """The batch handler of `ChatMessagePosted` (see `services.common.consumer`)."""
    batch = [(e, ChatMessagePosted.model_validate(e.data)) for e in events]
    rules: dict[str, CommunitySettings] = {}
    messages: list[_Message] = []
    for (event, data), resolved in zip(batch, senders_of_all(session, batch), strict=True):
        if resolved is None:
            log.info(
                "message from an unregistered group ignored",
                extra={"group": data.group_external_id},
            )
            continue
        group, member = resolved
        community = get_community(
            session=session, workspace_id=member.workspace_id, community_id=member.community_id
        )
        policy = rules.setdefault(community.id, community.rules())
        at = reported_time(data.occurred_at)
        messages.append(
            _Message(
                event=event,
                data=data,
                group=group,
                member=member,
                community=community,
                at=at,
                day=clock.local_day(at, community.timezone),
                found=violations(
                    text=data.text,
                    flags=data.flags,
                    policy=policy.moderation,
                    role=member.role,
                    at=at,
                    timezone=community.timezone,
                ),
            )
        )
    if not messages:
        return
    _lock_members(session, messages)
    memory = _remember(session, messages, rules)
    _record_messages(session, messages)

    awards: list[ledger.Award] = []
    day_counts: Counter[tuple[str, date]] = Counter()
    # Stage changes are written together, just before the next violation's events and at the
    # end, so the outbox keeps the per-message order of announcements.
    changes: list[tuple[StageChange, MemberStageChanged, Member]] = []
    with session.no_autoflush:
        for m in messages:
            _fold_one(session, m, rules[m.community.id], memory, awards, day_counts, changes)
    _write_stage_changes(session, changes)
    _count_days(session, day_counts, {m.member.id: m.member for m in messages})
    ledger.award_all(
        session=session,
        awards=awards,
        thresholds={cid: r.levels.thresholds for cid, r in rules.items()},
    )


def _write_stage_changes(
    session: Session, changes: list[tuple[StageChange, MemberStageChanged, Member]]
) -> None:
    """Record and announce the stage changes held so far, in one statement each."""
    if changes:
        session.add_all([change for change, _, _ in changes])
        emit_all(session, [(event, member) for _, event, member in changes])
        changes.clear()


def _fold_one(
    session: Session,
    m: _Message,
    policy: CommunitySettings,
    memory: _Memory,
    awards: list[ledger.Award],
    day_counts: Counter[tuple[str, date]],
    changes: list[tuple[StageChange, MemberStageChanged, Member]],
) -> None:
    """One message, as activity, the lifecycle and moderation would take it in turn."""
    member, community = m.member, m.community
    if m.recorded:  # activity: count the message, then its points
        member.message_count += 1
        if member.last_active_at is None or m.at > member.last_active_at:
            member.last_active_at = m.at
        session.add(member)
        day_counts[(member.id, m.day)] += 1
        memory.days[member.id].add(m.day)
        if member.id in memory.window_end and m.at < memory.window_end[member.id]:
            memory.early[member.id] += 1
        if member.status in IN_GOOD_STANDING and not m.found:
            earned = memory.earned[(member.id, m.day)]
            amount = min(policy.points.message, policy.points.message_daily_cap - earned)
            if amount > 0:
                memory.earned[(member.id, m.day)] += amount
                awards.append(ledger.Award(member, amount, "message", m.event.id, m.at))
    if member.status in IN_GOOD_STANDING and member.stage != Stage.aware:  # the lifecycle
        days = memory.days[member.id]
        early = memory.early[member.id]
        stage, reason = furthest_stage(
            member=member,
            rules=policy.lifecycle,
            timezone=community.timezone,
            at=m.at,
            days_since=lambda first: sum(1 for d in days if d >= first),
            messages_before=lambda _end: early,
        )
        if ORDER.index(stage) > ORDER.index(member.stage):  # forward only, as `advance`
            changes.append((*stage_change(member, stage, reason), member))
    if m.found:  # moderation
        _write_stage_changes(session, changes)
        record_violation(
            session=session,
            community=community,
            group=m.group,
            member=member,
            data=m.data,
            found=m.found,
            event_id=m.event.id,
        )


def _lock_members(session: Session, messages: list[_Message]) -> None:
    """Lock every sender's row at once, in id order (two batches never wait on each other in
    a circle): counters and the daily cap are read-modify-write."""
    ids = sorted({m.member.id for m in messages})
    session.exec(
        select(Member).where(col(Member.id).in_(ids)).order_by(col(Member.id)).with_for_update()
    ).all()


def _remember(
    session: Session, messages: list[_Message], rules: dict[str, CommunitySettings]
) -> _Memory:
    """Read, before this batch's messages are recorded, what the rules ask of the past."""
    memory = _Memory()
    members = {m.member.id: m.member for m in messages}
    ids = list(members)
    # Days the lifecycle's active window may reach back to.
    first_day = min(
        m.day - timedelta(days=rules[m.community.id].lifecycle.active_window_days - 1)
        for m in messages
    )
    for member_id, day in session.execute(
        sa.select(col(ActivityDay.member_id), col(ActivityDay.day)).where(
            col(ActivityDay.member_id).in_(ids), col(ActivityDay.day) >= first_day
        )
    ):
        memory.days[member_id].add(day)
    # Messages inside each member's first days (the `favourable` rule), for those it can move.
    for member in members.values():
        if member.joined_at is not None and member.stage not in _FAVOURABLE_OR_LATER:
            window = rules[member.community_id].lifecycle.favourable_window_days
            memory.window_end[member.id] = member.joined_at + timedelta(days=window)
    if memory.window_end:
        windows = sa.values(
            sa.column("member_id", sa.Text),
            sa.column("window_end", sa.DateTime(timezone=True)),
            name="window",
        ).data(list(memory.window_end.items()))
        messages_table = ActivityMessage.__table__  # type: ignore[attr-defined]
        for member_id, count in session.execute(
            sa.select(messages_table.c.member_id, sa.func.count())
            .join(windows, windows.c.member_id == messages_table.c.member_id)
            .where(messages_table.c.occurred_at < windows.c.window_end)
            .group_by(messages_table.c.member_id)
        ):
            memory.early[member_id] = count
    # Message points already paid on the batch's days (each day on its community's clock).
    spans = [clock.day_bounds(m.day, m.community.timezone) for m in messages]
    for member_id, created_at, amount in session.exec(
        select(PointsEntry.member_id, PointsEntry.created_at, PointsEntry.amount).where(
            col(PointsEntry.member_id).in_(ids),
            PointsEntry.reason == "message",
            col(PointsEntry.created_at) >= min(s.start for s in spans),
            col(PointsEntry.created_at) < max(s.end for s in spans),
        )
    ):
        community = next(m.community for m in messages if m.member.id == member_id)
        memory.earned[(member_id, clock.local_day(created_at, community.timezone))] += amount
    return memory


_FAVOURABLE_OR_LATER = set(list(Stage)[list(Stage).index(Stage.favourable) :])


def _record_messages(session: Session, messages: list[_Message]) -> None:
    """Note every message once, in one statement; a message seen before (or twice in the
    batch: the first copy counts) stays unrecorded, and so earns nothing."""
    table = ActivityMessage.__table__  # type: ignore[attr-defined]
    new = {
        tuple(row)
        for row in session.execute(
            insert(table)
            .values(
                [
                    {
                        "group_id": m.group.id,
                        "message_external_id": m.data.message_external_id,
                        "workspace_id": m.member.workspace_id,
                        "community_id": m.member.community_id,
                        "member_id": m.member.id,
                        "event_id": m.event.id,
                        "occurred_at": m.at,
                    }
                    for m in messages
                ]
            )
            .on_conflict_do_nothing()
            .returning(table.c.group_id, table.c.message_external_id, table.c.event_id)
        )
    }
    for m in messages:
        key = (m.group.id, m.data.message_external_id, m.event.id)
        if key in new:
            new.discard(key)
            m.recorded = True


def _count_days(
    session: Session, counts: Counter[tuple[str, date]], members: dict[str, Member]
) -> None:
    """Add the batch's messages to each member's days, in one statement."""
    if not counts:
        return
    table = ActivityDay.__table__  # type: ignore[attr-defined]
    rows = [
        {
            "member_id": member_id,
            "day": day,
            "workspace_id": members[member_id].workspace_id,
            "community_id": members[member_id].community_id,
            "messages": n,
        }
        for (member_id, day), n in counts.items()
    ]
    stmt = insert(table).values(rows)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["member_id", "day"],
            set_={"messages": table.c.messages + stmt.excluded.messages},
        )
    )
