"""Folding chat messages into the daily rollups, a batch at a time and set-based.

A batch of messages costs a fixed handful of statements whatever its size: one to claim the
event ids (the processed-events table, so an event seen in an earlier batch, or twice in this
one, changes nothing), two to match groups and operators, and one upsert per rollup table in
which each key (group and day, community and day, speaker and day) appears once. Keys go in
sorted, so two consumers folding overlapping batches lock rows in the same order.
"""

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import pydantic
import sqlalchemy as sa
from sqlmodel import Session

from services.common.clock import local_day
from services.common.cloudevents import CloudEvent
from services.common.contracts import ChatMessagePosted
from services.metrics.replica.models import speaker_key

log = logging.getLogger(__name__)

# The name this fold claims event ids under in the kit's `processed_event` table.
FOLD_CONSUMER = "metrics.messages"
# Roles whose messages are the operators' own (rule 10: groups where only they speak).
OPERATOR_ROLES = ("owner", "admin")
# Words that mark a complaint (rule 20, crisis handling); a spike of them opens an alert.
NEGATIVE_WORDS = ("投诉", "退款", "骗子", "垃圾", "差评", "维权", "举报", "曝光", "失望", "坑人")

_COUNTS = ("messages", "member_messages", "operator_messages", "negative_messages", "replies")


@dataclass
class FoldResult:
    """What one call did: `folded` + `duplicates` + `unmatched` + len(`rejected`) = received."""

    received: int = 0
    folded: int = 0
    duplicates: int = 0
    unmatched: int = 0  # from groups metrics does not know (not registered by an operator)
    rejected: list[str] = field(default_factory=list)  # ids of events that are not messages


def is_negative(text: str) -> bool:
    return any(word in text for word in NEGATIVE_WORDS)


def fold_messages(session: Session, events: Sequence[CloudEvent]) -> FoldResult:
    """Fold a batch of `message_posted` events into the rollups, in the caller's transaction."""
    result = FoldResult(received=len(events))
    parsed: dict[str, tuple[CloudEvent, ChatMessagePosted]] = {}
    for event in events:
        try:
            parsed[event.id] = (event, ChatMessagePosted.model_validate(event.data))
        except pydantic.ValidationError:
            result.rejected.append(event.id)
    fresh = _claim(session, sorted(parsed))
    result.duplicates = len(events) - len(result.rejected) - len(fresh)
    if not fresh:
        return result
    messages = [parsed[event_id] for event_id in sorted(fresh)]
    groups = _groups_of(session, messages)
    operators = _operators_among(session, messages, groups)

    group_days: defaultdict[tuple[str, date], Counter[str]] = defaultdict(Counter)
    community_days: defaultdict[tuple[str, date], Counter[str]] = defaultdict(Counter)
    group_speakers: Counter[tuple[str, date, str]] = Counter()
    community_speakers: defaultdict[tuple[str, date, str], list[int]] = defaultdict(lambda: [0, 0])
    owners: dict[str, tuple[str, str]] = {}  # group or community id → (workspace, community)
    for event, data in messages:
        group = groups.get((event.workspaceid, data.platform, data.group_external_id))
        if group is None:
            result.unmatched += 1
            continue
        group_id, community_id, timezone = group
        owners[group_id] = owners[community_id] = (event.workspaceid, community_id)
        day = local_day(data.occurred_at, timezone)
        speaker = speaker_key(data.platform, data.sender_external_id)
        counts = Counter(messages=1)
        if (community_id, speaker) in operators:
            counts["operator_messages"] = 1
        else:
            counts["member_messages"] = 1
            group_speakers[(group_id, day, speaker)] += 1
            tally = community_speakers[(community_id, day, speaker)]
            tally[0] += 1
            tally[1] += data.reply_to_external_id is not None
        if is_negative(data.text):
            counts["negative_messages"] = 1
        if data.reply_to_external_id is not None:
            counts["replies"] = 1
        group_days[(group_id, day)].update(counts)
        community_days[(community_id, day)].update(counts)
        result.folded += 1

    new_group_speakers = _upsert_group_speakers(session, group_speakers, owners)
    new_community_speakers = _upsert_community_speakers(session, community_speakers)
    _upsert_days(session, "group_day", "group_id", group_days, new_group_speakers, owners)
    _upsert_days(
        session, "community_day", "community_id", community_days, new_community_speakers, owners
    )
    return result


def _claim(session: Session, event_ids: list[str]) -> set[str]:
    """The ids among `event_ids` never folded before, now marked as folded."""
    if not event_ids:
        return set()
    rows = session.execute(
        sa.text(
            "INSERT INTO processed_event (consumer, event_id) "
            "SELECT :consumer, unnest(CAST(:ids AS text[])) "
            "ON CONFLICT DO NOTHING RETURNING event_id"
        ),
        {"consumer": FOLD_CONSUMER, "ids": event_ids},
    )
    return {row[0] for row in rows}


def _groups_of(
    session: Session, messages: list[tuple[CloudEvent, ChatMessagePosted]]
) -> dict[tuple[str, str, str], tuple[str, str, str]]:
    """(workspace, platform, external id) → (group id, community id, community timezone)."""
    keys = sorted({(e.workspaceid, d.platform, d.group_external_id) for e, d in messages})
    rows = session.execute(
        sa.text(
            "SELECT g.workspace_id, g.platform, g.external_id, g.group_id, g.community_id, "
            "c.timezone FROM chat_group g JOIN community c ON c.community_id = g.community_id "
            "WHERE (g.workspace_id, g.platform, g.external_id) IN ("
            "SELECT * FROM unnest(CAST(:w AS text[]), CAST(:p AS text[]), CAST(:x AS text[])))"
        ),
        {"w": [k[0] for k in keys], "p": [k[1] for k in keys], "x": [k[2] for k in keys]},
    )
    return {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in rows}


def _operators_among(
    session: Session,
    messages: list[tuple[CloudEvent, ChatMessagePosted]],
    groups: dict[tuple[str, str, str], tuple[str, str, str]],
) -> set[tuple[str, str]]:
    """The (community, speaker) pairs of this batch that are operators' accounts."""
    pairs = sorted(
        {
            (group[1], speaker_key(d.platform, d.sender_external_id))
            for e, d in messages
            if (group := groups.get((e.workspaceid, d.platform, d.group_external_id)))
        }
    )
    if not pairs:
        return set()
    rows = session.execute(
        sa.text(
            "SELECT i.community_id, i.speaker FROM member_identity i "
            "JOIN member m ON m.member_id = i.member_id "
            "WHERE m.role = ANY(CAST(:roles AS text[])) AND (i.community_id, i.speaker) IN ("
            "SELECT * FROM unnest(CAST(:c AS text[]), CAST(:s AS text[])))"
        ),
        {"roles": list(OPERATOR_ROLES), "c": [p[0] for p in pairs], "s": [p[1] for p in pairs]},
    )
    return {(r[0], r[1]) for r in rows}


def _upsert_group_speakers(
    session: Session,
    tallies: Counter[tuple[str, date, str]],
    owners: dict[str, tuple[str, str]],
) -> Counter[tuple[str, date]]:
    """Add each speaker's messages to their group day; returns new speakers per group day."""
    if not tallies:
        return Counter()
    keys = sorted(tallies)
    rows = session.execute(
        sa.text(
            "INSERT INTO group_speaker_day (group_id, day, speaker, community_id, messages) "
            "SELECT * FROM unnest(CAST(:g AS text[]), CAST(:d AS date[]), CAST(:s AS text[]), "
            "CAST(:c AS text[]), CAST(:m AS int[])) "
            "ON CONFLICT (group_id, day, speaker) DO UPDATE "
            "SET messages = group_speaker_day.messages + excluded.messages "
            "RETURNING group_id, day, (xmax = 0) AS inserted"
        ),
        {
            "g": [k[0] for k in keys],
            "d": [k[1] for k in keys],
            "s": [k[2] for k in keys],
            "c": [owners[k[0]][1] for k in keys],
            "m": [tallies[k] for k in keys],
        },
    )
    return Counter((r[0], r[1]) for r in rows if r[2])


def _upsert_community_speakers(
    session: Session, tallies: dict[tuple[str, date, str], list[int]]
) -> Counter[tuple[str, date]]:
    if not tallies:
        return Counter()
    keys = sorted(tallies)
    rows = session.execute(
        sa.text(
            "INSERT INTO community_speaker_day (community_id, day, speaker, messages, replies) "
            "SELECT * FROM unnest(CAST(:c AS text[]), CAST(:d AS date[]), CAST(:s AS text[]), "
            "CAST(:m AS int[]), CAST(:r AS int[])) "
            "ON CONFLICT (community_id, day, speaker) DO UPDATE "
            "SET messages = community_speaker_day.messages + excluded.messages, "
            "replies = community_speaker_day.replies + excluded.replies "
            "RETURNING community_id, day, (xmax = 0) AS inserted"
        ),
        {
            "c": [k[0] for k in keys],
            "d": [k[1] for k in keys],
            "s": [k[2] for k in keys],
            "m": [tallies[k][0] for k in keys],
            "r": [tallies[k][1] for k in keys],
        },
    )
    return Counter((r[0], r[1]) for r in rows if r[2])


def _upsert_days(
    session: Session,
    table: str,
    key: str,
    days: dict[tuple[str, date], Counter[str]],
    new_speakers: Counter[tuple[str, date]],
    owners: dict[str, tuple[str, str]],
) -> None:
    """Add the batch's counts to each (owner, day) row of `table`, once per row."""
    if not days:
        return
    keys = sorted(days)
    columns = [*_COUNTS, "speakers"]
    extra = ", community_id" if table == "group_day" else ""
    extra_cast = ", CAST(:community AS text[])" if table == "group_day" else ""
    assignments = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in columns)
    params: dict[str, list[object]] = {
        "owner": [k[0] for k in keys],
        "day": [k[1] for k in keys],
        "workspace": [owners[k[0]][0] for k in keys],
        "community": [owners[k[0]][1] for k in keys],
        **{c: [days[k][c] for k in keys] for c in _COUNTS},
        "speakers": [new_speakers[k] for k in keys],
    }
    session.execute(
        sa.text(
            f"INSERT INTO {table} ({key}, day, workspace_id{extra}, {', '.join(columns)}) "
            "SELECT * FROM unnest(CAST(:owner AS text[]), CAST(:day AS date[]), "
            f"CAST(:workspace AS text[]){extra_cast}, "
            + ", ".join(f"CAST(:{c} AS int[])" for c in columns)
            + f") ON CONFLICT ({key}, day) DO UPDATE SET {assignments}"
        ),
        params,
    )
