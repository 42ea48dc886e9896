"""Chat messages folded as a set: what `on_message_posted` of activity, the lifecycle and
moderation do message by message, done for a whole batch with a constant number of statements.

The batch is read at once (groups, the senders locked and read as plain rows, their recent
days, early messages, today's message points, and for violators their strikes), the rules run
in Python message by message in the batch's order against that memory, and the results are
written at once (message records, stage changes, moderation cases and status changes, the
outbox, daily counts, points, then each member's row once). The strike ladder climbs in
message order: each case joins the memory before the next message is judged
(`moderation.strikes`). The outcome is the one the per-message handlers give, message by
message: a member muted or removed by their third message earns nothing for their fourth,
and a message's points are paid once.

Statements have fixed texts and take the batch's rows as one JSON parameter that Postgres
expands (`json_to_recordset`): a multi-row VALUES is compiled anew, by SQLAlchemy and by
psycopg, for every row count, and that compiling cost more than everything else in the fold.

Where it differs from one message at a time: rule badges are checked once per member at the
end of the batch (a member removed later in the batch gets no badge for points earned before
the removal); level and badge events follow the batch's other events in the outbox; and a
sender another process registers at the same moment (or a case it opens for one of the
batch's messages) fails the batch's insert, so the batch is split and that message takes the
per-event path.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import orjson
import pydantic
import sqlalchemy as sa
from sqlmodel import Session

from services.common import clock
from services.common.cloudevents import CloudEvent
from services.common.contracts import ChatMessagePosted, EventData, MemberStageChanged
from services.common.ids import new_id
from services.members.activity.member_rows import count_days, forget_members, write_members
from services.members.activity.senders import Sender, senders_of_all
from services.members.activity.service import log, reported_time
from services.members.community.models import Community, MemberRecord
from services.members.community.service import get_community
from services.members.community.settings import CommunitySettings
from services.members.groups.models import Group
from services.members.incentives import badges, ledger
from services.members.lifecycle.service import ORDER, furthest_stage
from services.members.moderation.detection import Match, violations
from services.members.moderation.strikes import Strikes
from services.members.publishing import emit_all
from services.members.vocabulary import IN_GOOD_STANDING, Stage


@dataclass
class _Message:
    event: CloudEvent
    data: ChatMessagePosted
    group: Group
    member: Sender
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


# The contract run once over the batch's list: a quarter less CPU than once per message.
_MESSAGES = pydantic.TypeAdapter(list[ChatMessagePosted])


def _validated(events: Sequence[CloudEvent]) -> list[tuple[CloudEvent, ChatMessagePosted]]:
    """Each event with its message. A message the contract refuses fails the batch (the kit
    splits it down to that event) with the error `model_validate` gives for it alone."""
    try:
        messages = _MESSAGES.validate_python([e.data for e in events])
    except pydantic.ValidationError:
        for event in events:
            ChatMessagePosted.model_validate(event.data)
        raise
    return list(zip(events, messages, strict=True))


def fold_messages(session: Session, events: Sequence[CloudEvent]) -> None:
    """The batch handler of `ChatMessagePosted` (see `services.common.consumer`)."""
    batch = _validated(events)
    session.flush()  # what handlers before this one changed, before the senders are read
    rules: dict[str, CommunitySettings] = {}
    communities: dict[str, Community] = {}
    messages: list[_Message] = []
    for (event, data), resolved in zip(batch, senders_of_all(session, batch), strict=True):
        if resolved is None:
            log.info(
                "message from an unregistered group ignored",
                extra={"group": data.group_external_id},
            )
            continue
        group, member = resolved
        community = communities.get(member.community_id)
        if community is None:  # read and its rules validated once a batch, not once a message
            community = communities[member.community_id] = get_community(
                session=session, workspace_id=member.workspace_id, community_id=member.community_id
            )
            rules[community.id] = community.rules()
        policy = rules[community.id]
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
    memory = _remember(session, messages, rules)
    _record_messages(session, messages)

    violators = [m for m in messages if m.found]
    strikes = Strikes.load(
        session,
        [(m.member, m.group, m.data.message_external_id) for m in violators],
        since=min(
            (m.at - timedelta(days=rules[m.community.id].moderation.strike_expiry_days))
            for m in violators
        )
        if violators
        else clock.now(),
    )
    fold = _Fold(memory=memory, strikes=strikes)
    for m in messages:
        _fold_one(m, rules[m.community.id], fold)
    members = {m.member.id: m.member for m in messages}
    if fold.stage_changes:
        session.execute(_STAGE_CHANGES, {"rows": orjson.dumps(fold.stage_changes).decode()})
    strikes.write(session)
    # Announcements in message order, as the per-message handlers would have made them.
    emit_all(session, fold.announced)
    count_days(session, fold.day_counts, members)
    ledger.pay_all(
        session=session,
        awards=fold.awards,
        thresholds={cid: r.levels.thresholds for cid, r in rules.items()},
    )
    write_members(session, members)  # once, counters, standing, points and level together
    forget_members(session, members)
    badges.check_rules_for_all(session=session, members=list(members.values()))


@dataclass
class _Fold:
    """What folding the batch has decided so far, written at once at the end."""

    memory: _Memory
    strikes: Strikes
    awards: list[ledger.Award] = field(default_factory=list)
    day_counts: Counter[tuple[str, date]] = field(default_factory=Counter)
    stage_changes: list[dict[str, object]] = field(default_factory=list)
    announced: list[tuple[EventData, MemberRecord]] = field(default_factory=list)


def _fold_one(m: _Message, policy: CommunitySettings, fold: _Fold) -> None:
    """One message, as activity, the lifecycle and moderation would take it in turn."""
    member, community, memory = m.member, m.community, fold.memory
    if m.recorded:  # activity: count the message, then its points
        member.message_count += 1
        if member.last_active_at is None or m.at > member.last_active_at:
            member.last_active_at = m.at
        fold.day_counts[(member.id, m.day)] += 1
        memory.days[member.id].add(m.day)
        if member.id in memory.window_end and m.at < memory.window_end[member.id]:
            memory.early[member.id] += 1
        if member.status in IN_GOOD_STANDING and not m.found:
            earned = memory.earned[(member.id, m.day)]
            amount = min(policy.points.message, policy.points.message_daily_cap - earned)
            if amount > 0:
                memory.earned[(member.id, m.day)] += amount
                fold.awards.append(ledger.Award(member, amount, "message", m.event.id, m.at))
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
            fold.stage_changes.append(_stage_change(member, stage, reason, fold.announced))
    if m.found:  # moderation
        fold.announced += fold.strikes.judge(
            policy=policy.moderation,
            group=m.group,
            member=member,
            data=m.data,
            found=m.found,
            event_id=m.event.id,
            at=m.at,
        )


def _stage_change(
    member: Sender, to_stage: Stage, reason: str, announced: list[tuple[EventData, MemberRecord]]
) -> dict[str, object]:
    """`lifecycle.service.stage_change` as a row for `_STAGE_CHANGES` (a table object costs
    more to build than the rest of the message's fold); the event joins `announced`."""
    at = clock.now()
    row: dict[str, object] = {
        "i": new_id("stg"),
        "w": member.workspace_id,
        "c": member.community_id,
        "m": member.id,
        "f": member.stage,
        "t": to_stage,
        "r": reason,
        "a": at,
    }
    announced.append(
        (
            MemberStageChanged(
                member_id=member.id,
                community_id=member.community_id,
                from_stage=member.stage,
                to_stage=to_stage,
                reason=reason,
                actor=_SYSTEM,
                changed_at=at,
            ),
            member,
        )
    )
    member.stage = to_stage
    return row


_SYSTEM = "system"


def _remember(
    session: Session, messages: list[_Message], rules: dict[str, CommunitySettings]
) -> _Memory:
    """Read, before this batch's messages are recorded, what the rules ask of the past."""
    memory = _Memory()
    members = {m.member.id: m.member for m in messages}
    # Days the lifecycle's active window may reach back to.
    first_day = min(
        m.day - timedelta(days=rules[m.community.id].lifecycle.active_window_days - 1)
        for m in messages
    )
    for member_id, day in session.execute(_DAYS, {"ids": list(members), "first": first_day}):
        memory.days[member_id].add(day)
    # Messages inside each member's first days (the `favourable` rule), for those it can move.
    for member in members.values():
        if member.joined_at is not None and member.stage not in _FAVOURABLE_OR_LATER:
            window = rules[member.community_id].lifecycle.favourable_window_days
            memory.window_end[member.id] = member.joined_at + timedelta(days=window)
    if memory.window_end:
        windows = [{"m": m, "e": end} for m, end in memory.window_end.items()]
        for member_id, count in session.execute(_EARLY, {"rows": orjson.dumps(windows).decode()}):
            memory.early[member_id] = count
    # Message points already paid on the batch's days (each day on its community's clock),
    # summed by Postgres: a member's entries of the day would come back one by one.
    bounds: dict[tuple[date, str], clock.Span] = {}
    days: dict[tuple[str, date], dict[str, object]] = {}
    for m in messages:
        if (m.member.id, m.day) not in days:
            key = (m.day, m.community.timezone)
            span = bounds.get(key) or bounds.setdefault(key, clock.day_bounds(*key))
            days[(m.member.id, m.day)] = {
                "m": m.member.id,
                "d": m.day,
                "s": span.start,
                "e": span.end,
            }
    earned = orjson.dumps(list(days.values())).decode()
    for member_id, day, amount in session.execute(_EARNED, {"rows": earned}):
        memory.earned[(member_id, day)] += amount
    return memory


_FAVOURABLE_OR_LATER = set(list(Stage)[list(Stage).index(Stage.favourable) :])


def _record_messages(session: Session, messages: list[_Message]) -> None:
    """Note every message once, in one statement; a message seen before (or twice in the
    batch: the first copy counts) stays unrecorded, and so earns nothing."""
    rows = [
        {
            "g": m.group.id,
            "x": m.data.message_external_id,
            "w": m.member.workspace_id,
            "c": m.member.community_id,
            "m": m.member.id,
            "e": m.event.id,
            "o": m.at,
        }
        for m in messages
    ]
    new = {tuple(row) for row in session.execute(_RECORD, {"rows": orjson.dumps(rows).decode()})}
    for m in messages:
        key = (m.group.id, m.data.message_external_id, m.event.id)
        if key in new:
            new.discard(key)
            m.recorded = True


# A batch's rows go as one JSON parameter that Postgres expands (`json_to_recordset`): the
# statements' text never changes, so nothing is compiled per batch (a multi-row VALUES is
# compiled anew, by SQLAlchemy and psycopg, for every row count).
_RECORD = sa.text(
    "INSERT INTO activity_message (group_id, message_external_id, workspace_id, community_id, "
    "member_id, event_id, occurred_at) "
    "SELECT g, x, w, c, m, e, o FROM json_to_recordset(CAST(:rows AS json)) "
    "AS r(g text, x text, w text, c text, m text, e text, o timestamptz) "
    "ON CONFLICT DO NOTHING RETURNING group_id, message_external_id, event_id"
)
_EARLY = sa.text(
    "SELECT a.member_id, count(*) FROM activity_message a "
    "JOIN json_to_recordset(CAST(:rows AS json)) AS w(m text, e timestamptz) "
    "ON a.member_id = w.m AND a.occurred_at < w.e GROUP BY a.member_id"
)
_DAYS = sa.text(
    "SELECT member_id, day FROM member_activity_day "
    "WHERE member_id = ANY(CAST(:ids AS text[])) AND day >= :first"
)
_EARNED = sa.text(
    "SELECT r.m, r.d, sum(p.amount) FROM points_entry p "
    "JOIN json_to_recordset(CAST(:rows AS json)) AS r(m text, d date, s timestamptz, "
    "e timestamptz) ON p.member_id = r.m AND p.reason = 'message' "
    "AND p.created_at >= r.s AND p.created_at < r.e GROUP BY r.m, r.d"
)
_STAGE_CHANGES = sa.text(
    "INSERT INTO member_stage_change (id, workspace_id, community_id, member_id, from_stage, "
    "to_stage, reason, actor, at) "
    f"SELECT i, w, c, m, f, t, r, '{_SYSTEM}', a FROM json_to_recordset(CAST(:rows AS json)) "
    "AS x(i text, w text, c text, m text, f text, t text, r text, a timestamptz)"
)
