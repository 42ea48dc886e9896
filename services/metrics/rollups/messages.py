"""Folding chat messages into the daily rollups, a batch at a time and set-based.

A batch of messages costs a fixed handful of statements whatever its size: one to claim the
event ids (the processed-events table, so an event seen in an earlier batch, or twice in this
one, changes nothing; the kit's batch consumer claims them itself, so its batches skip this
one), two to match groups and operators, and one upsert per rollup table in which each key
(group and day, community and day, speaker and day) appears once, a day's speakers and counts
in one statement. Keys go in sorted, so two consumers folding overlapping batches lock rows in
the same order. In the kit's batch mode all but the writes is done before the transaction
(`tally_messages`, the kit's `BatchFold.prepare`), while the previous batch is written.

A message whose group the replicas do not know yet (its `group.created` travels on another
topic and may come later) is parked (`services.metrics.parking`), in one insert for the
batch, and its claim is given back, so that when the group arrives its replay folds it once.
That costs four more statements, only for a batch that has such messages.
"""

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import orjson
import pydantic
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlmodel import Session

from services.common.clock import day_bounds, local_day
from services.common.cloudevents import CloudEvent
from services.common.contracts import ChatMessagePosted
from services.metrics.parking import service as parking
from services.metrics.rollups.upserts import GroupDay, Write, json_rows, rollup_writes, write

log = logging.getLogger(__name__)

# The name this fold claims event ids under in the kit's `processed_event` table.
FOLD_CONSUMER = "metrics.messages"
# Roles whose messages are the operators' own (rule 10: groups where only they speak).
OPERATOR_ROLES = ("owner", "admin")
# Words that mark a complaint (rule 20, crisis handling); a spike of them opens an alert.
NEGATIVE_WORDS = ("投诉", "退款", "骗子", "垃圾", "差评", "维权", "举报", "曝光", "失望", "坑人")


@dataclass
class FoldResult:
    """What one call did: `folded` + `duplicates` + `parked` + len(`rejected`) = received."""

    received: int = 0
    folded: int = 0
    duplicates: int = 0  # folded before, twice in the batch, or parked already
    parked: int = 0  # from groups metrics does not know yet, kept until they are registered
    rejected: list[str] = field(default_factory=list)  # ids of events that are not messages


class Message(NamedTuple):
    """What the fold reads of a `message_posted` event."""

    platform: str
    group_external_id: str
    sender_external_id: str
    occurred_at: datetime
    text: str
    reply_to_external_id: str | None


_Parsed = tuple[CloudEvent, Message]
_fromisoformat = datetime.fromisoformat
_MAX_TEXT = 20_000  # ChatMessagePosted.text's max_length


def _message(data: dict[str, Any]) -> Message | None:
    """The message in a well-formed event's data as a plain tuple, without building a model:
    the common case checked field by field (str where the contract says str, an ISO 8601
    time); None for anything else, which the contract itself then judges."""
    try:
        platform, group, sender = (
            data["platform"],
            data["group_external_id"],
            data["sender_external_id"],
        )
        text, reply_to = data.get("text", ""), data.get("reply_to_external_id")
        occurred_at = data["occurred_at"]
        if not (
            type(platform) is str
            and type(group) is str
            and type(sender) is str
            and type(data["message_external_id"]) is str
            and type(text) is str
            and len(text) <= _MAX_TEXT
            and (reply_to is None or type(reply_to) is str)
            and type(occurred_at) is str
            and _simple_extras(data)
        ):
            return None
        return Message(platform, group, sender, _fromisoformat(occurred_at), text, reply_to)
    except (KeyError, ValueError):
        return None


def _simple_extras(data: dict[str, Any]) -> bool:
    """The contract's other fields, as it wants them: flags a list of str, the display name
    a str or null."""
    flags = data.get("flags", ())
    name = data.get("sender_display_name")
    return (
        type(flags) in (list, tuple)
        and all(type(f) is str for f in flags)
        and (name is None or type(name) is str)
    )


_NEGATIVE = re.compile("|".join(map(re.escape, NEGATIVE_WORDS)))


def is_negative(text: str) -> bool:
    return _NEGATIVE.search(text) is not None


class _LocalDays:
    """`local_day` for many instants of few days, by POSIX timestamp: the last day found in
    each zone answers the instants inside it with two float comparisons."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, float, date]] = {}

    def day(self, at: float, timezone: str) -> date:
        known = self._last.get(timezone)
        if known is not None and known[0] <= at < known[1]:
            return known[2]
        day = local_day(datetime.fromtimestamp(at, UTC), timezone)
        span = day_bounds(day, timezone)
        self._last[timezone] = (span.start.timestamp(), span.end.timestamp(), day)
        return day


def parse_messages(events: Sequence[CloudEvent]) -> tuple[list[_Parsed], list[str]]:
    """The batch's messages, and the ids of events that are not messages. The contract
    (`ChatMessagePosted`) judges only what the plain check does not take: building a
    pydantic model for every message cost a fifth of the fold."""
    parsed, rejected = [], []
    for event in events:
        message = _message(event.data)
        if message is None:
            try:
                data = ChatMessagePosted.model_validate(event.data)
            except pydantic.ValidationError:
                rejected.append(event.id)
                continue
            message = Message(
                data.platform,
                data.group_external_id,
                data.sender_external_id,
                data.occurred_at,
                data.text,
                data.reply_to_external_id,
            )
        parsed.append((event, message))
    return parsed, rejected


def fold_messages(session: Session, events: Sequence[CloudEvent]) -> FoldResult:
    """Fold a batch of `message_posted` events into the rollups, in the caller's transaction."""
    parsed, rejected = parse_messages(events)
    return fold_parsed(session, parsed, received=len(events), rejected=rejected)


def fold_parsed(
    session: Session,
    parsed: list[_Parsed],
    *,
    received: int | None = None,
    rejected: list[str] | None = None,
    claim: bool = True,
) -> FoldResult:
    """`fold_messages` for messages parsed already (`parse_messages`). `claim=False` when
    the caller has claimed the events' ids in this transaction already and dropped the
    duplicates (the kit's batch consumer does, under its own name): a second claim of every
    id was a processed-event row per message, a fifth of Postgres's work of the fold."""
    result = FoldResult(
        received=len(parsed) if received is None else received, rejected=rejected or []
    )
    by_id = {event.id: (event, data) for event, data in parsed}
    repeated = _claim(session, sorted(by_id)) if claim else set()
    result.duplicates = len(parsed) - len(by_id) + len(repeated)
    if len(repeated) == len(by_id):
        return result
    messages = [by_id[i] for i in by_id.keys() - repeated] if repeated else list(by_id.values())
    keys = {(e.workspaceid, d.platform, d.group_external_id) for e, d in messages}
    groups = _groups_of(session, keys)
    if len(groups) < len(keys):
        messages = _park_unmatched(session, messages, groups, result, claimed=claim)
    operators = _operators_among(session, messages, groups)
    write(session, _rollup_writes(messages, groups, operators))
    result.folded = len(messages)
    return result


@dataclass
class Tally:
    """A batch's messages counted into the rollups' rows before the transaction
    (`tally_messages`), and those of groups not found then: what `write_tally` writes."""

    counted: int
    writes: list[Write]
    unmatched: list[_Parsed]


def tally_messages(connection: Connection, events: Sequence[CloudEvent]) -> Tally | None:
    """The kit's `BatchFold.prepare`: a batch counted into the rollups' rows on a connection of
    its own, before its transaction; None when the transaction must fold it all itself (a
    message that is not one, an event twice). Groups, timezones and operators are read before
    the transaction in flight and this batch's earlier events are written: as if the chat had
    come just before those, which come on other topics, in no order with chat anyway."""
    parsed, rejected = parse_messages(events)
    if rejected or len({event.id for event, _ in parsed}) < len(parsed):
        return None
    groups = _groups_of(connection, {_group_key(e, d) for e, d in parsed})
    known: list[_Parsed] = []
    unmatched: list[_Parsed] = []
    for message in parsed:
        (known if _group_key(*message) in groups else unmatched).append(message)
    operators = _operators_among(connection, known, groups)
    return Tally(len(known), _rollup_writes(known, groups, operators), unmatched)


def write_tally(session: Session, tally: Tally) -> FoldResult:
    """Write a `Tally` of messages the kit has claimed in this transaction; the messages of
    groups it did not find are folded here, or parked (`fold_parsed` looks again)."""
    write(session, tally.writes)
    result = FoldResult(received=tally.counted, folded=tally.counted)
    if tally.unmatched:
        rest = fold_parsed(session, tally.unmatched, claim=False)
        result.received += rest.received
        result.folded += rest.folded
        result.parked += rest.parked
        result.duplicates += rest.duplicates
    return result


def _rollup_writes(
    messages: list[_Parsed],
    groups: dict[tuple[str, str, str], tuple[str, str, str]],
    operators: set[tuple[str, str]],
) -> list[Write]:
    """The messages counted by the rows they add to: (group, day) → ([messages, member,
    operator, negative, replies], its members who spoke: speaker → [messages, replies]), per
    group hour, per replied message; plain lists and dicts, not Counters, and locals bound
    once: this loop runs once per message. Communities' days are their groups' days summed
    afterwards, once per group day and speaker, not once more per message."""
    group_days: dict[tuple[str, date], GroupDay] = {}
    owners: dict[str, tuple[str, str]] = {}  # group or community id → (workspace, community)
    group_hours: dict[tuple[str, float], list[int]] = {}  # (group, hour) → [all, member]
    replied: dict[tuple[str, str], int] = {}  # (group, replied message) → replies
    repliers: set[tuple[str, str, str]] = set()
    day_of = _LocalDays().day
    negative_in = _NEGATIVE.search
    for event, data in messages:
        group_id, community_id, timezone = groups[
            (event.workspaceid, data.platform, data.group_external_id)
        ]
        if group_id not in owners:
            owners[group_id] = owners[community_id] = (event.workspaceid, community_id)
        sent = data.occurred_at
        at = (sent if sent.tzinfo is not None else sent.replace(tzinfo=UTC)).timestamp()
        day = day_of(at, timezone)
        speaker = f"{data.platform}:{data.sender_external_id}"  # replica.models.speaker_key
        operator = (community_id, speaker) in operators
        reply_to = data.reply_to_external_id
        reply = 0 if reply_to is None else 1  # an int: it goes into JSON counts as it is
        group_day = group_days.get((group_id, day))
        if group_day is None:
            group_day = group_days[(group_id, day)] = ([0, 0, 0, 0, 0], {})
        counts, speakers = group_day
        counts[0] += 1
        counts[2 if operator else 1] += 1
        counts[3] += negative_in(data.text) is not None
        counts[4] += reply
        hour = (group_id, at - at % 3600)
        in_hour = group_hours.get(hour)
        if in_hour is None:
            in_hour = group_hours[hour] = [0, 0]
        in_hour[0] += 1
        if reply_to is not None:
            target = (group_id, reply_to)
            replied[target] = replied.get(target, 0) + 1
        if not operator:
            in_hour[1] += 1
            if reply_to is not None:
                repliers.add((group_id, reply_to, speaker))
            tally = speakers.get(speaker)
            if tally is None:
                speakers[speaker] = [1, reply]
            else:
                tally[0] += 1
                tally[1] += reply
    return rollup_writes(group_days, owners, group_hours, replied, repliers)


def _group_key(event: CloudEvent, data: Message) -> tuple[str, str, str]:
    return (event.workspaceid, data.platform, data.group_external_id)


def _park_unmatched(
    session: Session,
    messages: list[_Parsed],
    groups: dict[tuple[str, str, str], tuple[str, str, str]],
    result: FoldResult,
    *,
    claimed: bool,
) -> list[_Parsed]:
    """Park the messages of groups not (yet) known and give back the fold's claims of them
    (if it `claimed` them); returns the messages left to fold. A group registered meanwhile
    is seen by the second look, taken under the parking lock (see `parking.service`)."""
    unmatched = [m for m in messages if _group_key(*m) not in groups]
    parking.hold_workspaces(session, (e.workspaceid for e, _ in unmatched), exclusive=False)
    groups.update(_groups_of(session, {_group_key(*m) for m in unmatched}))
    waiting = [(e, d) for e, d in unmatched if _group_key(e, d) not in groups]
    if not waiting:
        return messages
    if claimed:
        session.execute(
            sa.text(
                "DELETE FROM processed_event WHERE consumer = :consumer AND event_id IN "
                "(SELECT value FROM json_array_elements_text(CAST(:ids AS json)))"
            ),
            {"consumer": FOLD_CONSUMER, "ids": orjson.dumps([e.id for e, _ in waiting]).decode()},
        )
    parked = parking.park_messages(
        session, waiting=[(e, d.platform, d.group_external_id) for e, d in waiting]
    )
    result.parked += len(parked)
    result.duplicates += len(waiting) - len(parked)  # delivered again while parked
    return [m for m in messages if _group_key(*m) in groups]


def _claim(session: Session, event_ids: list[str]) -> set[str]:
    """Mark `event_ids` as folded; returns those folded before (usually none: the answer is
    one row whatever the batch's size, not one row per id)."""
    if not event_ids:
        return set()
    repeated = session.execute(
        sa.text(
            "WITH ids AS (SELECT value AS id FROM json_array_elements_text(CAST(:ids AS json))), "
            "claimed AS (INSERT INTO processed_event (consumer, event_id) "
            "SELECT :consumer, id FROM ids ON CONFLICT DO NOTHING RETURNING event_id) "
            "SELECT CAST(json_agg(id) AS text) FROM ids "
            "WHERE id NOT IN (SELECT event_id FROM claimed)"
        ),
        {"consumer": FOLD_CONSUMER, "ids": orjson.dumps(event_ids).decode()},
    ).scalar_one()
    return set(orjson.loads(repeated)) if repeated else set()


def _groups_of(
    session: Session | Connection, keys: set[tuple[str, str, str]]
) -> dict[tuple[str, str, str], tuple[str, str, str]]:
    """(workspace, platform, external id) → (group id, community id, community timezone)."""
    rows = session.execute(
        sa.text(
            "SELECT g.workspace_id, g.platform, g.external_id, g.group_id, g.community_id, "
            "c.timezone FROM chat_group g JOIN community c ON c.community_id = g.community_id "
            "WHERE (g.workspace_id, g.platform, g.external_id) IN ("
            "SELECT w, p, x FROM json_to_recordset(CAST(:keys AS json)) "
            "AS k(w text, p text, x text))"
        ),
        {"keys": json_rows([{"w": k[0], "p": k[1], "x": k[2]} for k in sorted(keys)])},
    )
    return {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in rows}


def _operators_among(
    session: Session | Connection,
    messages: list[_Parsed],
    groups: dict[tuple[str, str, str], tuple[str, str, str]],
) -> set[tuple[str, str]]:
    """The (community, speaker) accounts of operators in the communities of this batch: a
    community has few operators, so asking for all of them costs no work per message (the
    partial index `ix_member_operators` finds them)."""
    communities = sorted({group[1] for group in groups.values()})
    if not communities or not messages:
        return set()
    rows = session.execute(
        sa.text(
            "SELECT i.community_id, i.speaker FROM member m "
            "JOIN member_identity i ON i.member_id = m.member_id "
            "AND i.community_id = m.community_id "
            f"WHERE m.role IN ({', '.join(repr(r) for r in OPERATOR_ROLES)}) "
            "AND m.community_id = ANY(CAST(:communities AS text[]))"
        ),
        {"communities": communities},
    )
    return {(r[0], r[1]) for r in rows}
