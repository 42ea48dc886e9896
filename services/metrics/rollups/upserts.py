"""The fold's upserts: a batch's counts added to the rollup tables, a statement per table (the
speakers of a day and the day in one), each key once and in sorted order (see `messages.py`
for why)."""

from datetime import UTC, date, datetime

import orjson
import sqlalchemy as sa
from sqlmodel import Session

COUNTS = ("messages", "member_messages", "operator_messages", "negative_messages", "replies")
# A day of a group (or community) in a batch: its `COUNTS`, and its members who spoke, each
# with [messages, replies].
GroupDay = tuple[list[int], dict[str, list[int]]]
# A statement and its parameters.
Write = tuple[sa.TextClause, dict[str, str]]


def json_rows(rows: list[dict[str, object]]) -> str:
    """A batch's rows as one JSON parameter: Postgres expands it with `json_to_recordset`,
    which costs far less to send than one array parameter per column."""
    return orjson.dumps(rows).decode()


_HOURS = sa.text(
    "INSERT INTO group_hour (group_id, hour, messages, member_messages) "
    "SELECT g, h, m, mm FROM json_to_recordset(CAST(:rows AS json)) "
    "AS r(g text, h timestamptz, m int, mm int) "
    "ON CONFLICT (group_id, hour) DO UPDATE SET "
    "messages = group_hour.messages + excluded.messages, "
    "member_messages = group_hour.member_messages + excluded.member_messages"
)
_REPLIED = sa.text(
    "INSERT INTO reply_target (group_id, message_external_id, replies) "
    "SELECT g, x, n FROM json_to_recordset(CAST(:rows AS json)) "
    "AS r(g text, x text, n int) "
    "ON CONFLICT (group_id, message_external_id) DO UPDATE SET "
    "replies = reply_target.replies + excluded.replies"
)
_REPLIERS = sa.text(
    "INSERT INTO reply_target_speaker (group_id, message_external_id, speaker) "
    "SELECT g, x, s FROM json_to_recordset(CAST(:rows AS json)) "
    "AS r(g text, x text, s text) ON CONFLICT DO NOTHING"
)


def _hours_and_replies(
    hours: dict[tuple[str, float], list[int]],
    replied: dict[tuple[str, str], int],
    repliers: set[tuple[str, str, str]],
) -> list[Write]:
    """What content response reads: messages per group hour, replies per replied message."""
    writes: list[Write] = []
    if hours:
        rows = [
            {
                "g": g,
                "h": datetime.fromtimestamp(h, UTC),
                "m": hours[(g, h)][0],
                "mm": hours[(g, h)][1],
            }
            for g, h in sorted(hours)
        ]
        writes.append((_HOURS, {"rows": json_rows(rows)}))
    if replied:
        rows = [{"g": g, "x": x, "n": replied[(g, x)]} for g, x in sorted(replied)]
        writes.append((_REPLIED, {"rows": json_rows(rows)}))
    if repliers:
        rows = [{"g": g, "x": x, "s": sp} for g, x, sp in sorted(repliers)]
        writes.append((_REPLIERS, {"rows": json_rows(rows)}))
    return writes


def by_community(
    group_days: dict[tuple[str, date], GroupDay], owners: dict[str, tuple[str, str]]
) -> dict[tuple[str, date], GroupDay]:
    """Each community's days: its groups' days summed, speakers too (a message is in one
    group, and a group's day is its community's, in the community's timezone)."""
    days: dict[tuple[str, date], GroupDay] = {}
    for (group_id, day), (counts, speakers) in group_days.items():
        community_day = days.get((owners[group_id][1], day))
        if community_day is None:
            days[(owners[group_id][1], day)] = (counts[:], {s: t[:] for s, t in speakers.items()})
            continue
        total, spoke = community_day
        for n, count in enumerate(counts):
            total[n] += count
        for speaker, (messages, replies) in speakers.items():
            tally = spoke.get(speaker)
            if tally is None:
                spoke[speaker] = [messages, replies]
            else:
                tally[0] += messages
                tally[1] += replies
    return days


def rollup_writes(
    group_days: dict[tuple[str, date], GroupDay],
    owners: dict[str, tuple[str, str]],
    hours: dict[tuple[str, float], list[int]],
    replied: dict[tuple[str, str], int],
    repliers: set[tuple[str, str, str]],
) -> list[Write]:
    """The statements that add a batch's counts to the rollups, ready to run: built before
    any of them runs (the batch consumer builds them outside the transaction), none waiting
    for another's answer."""
    if not group_days:
        return []
    community_days = by_community(group_days, owners)
    return [
        _days_and_speakers("group", group_days, owners),
        _days_and_speakers("community", community_days, owners),
        *_hours_and_replies(hours, replied, repliers),
    ]


def write(session: Session, writes: list[Write]) -> None:
    for statement, params in writes:
        session.execute(statement, params)


def _days_statement(level: str) -> sa.TextClause:
    """Each speaker's messages added to their group's or community's (`level`) day, then the
    day's counts, with the speakers new to the day (`xmax = 0` marks a row inserted, not
    updated), in one statement: nothing goes back and forth between the two."""
    table, key = f"{level}_day", f"{level}_id"
    columns = [*COUNTS, "speakers"]
    if level == "group":
        speakers = (
            "INSERT INTO group_speaker_day (group_id, day, speaker, community_id, messages) "
            "SELECT o, d, s, c, m FROM json_to_recordset(CAST(:speakers AS json)) "
            "AS r(o text, d date, s text, c text, m int) "
            "ON CONFLICT (group_id, day, speaker) DO UPDATE "
            "SET messages = group_speaker_day.messages + excluded.messages "
        )
        extra, selected = ", community_id", ", r.community_id"
    else:
        speakers = (
            "INSERT INTO community_speaker_day (community_id, day, speaker, messages, replies) "
            "SELECT o, d, s, m, r FROM json_to_recordset(CAST(:speakers AS json)) "
            "AS x(o text, d date, s text, m int, r int) "
            "ON CONFLICT (community_id, day, speaker) DO UPDATE "
            "SET messages = community_speaker_day.messages + excluded.messages, "
            "replies = community_speaker_day.replies + excluded.replies "
        )
        extra = selected = ""
    return sa.text(
        f"WITH up AS ({speakers}RETURNING {key} AS owner, day, (xmax = 0) AS inserted), "
        "new AS (SELECT owner, day, count(*) FILTER (WHERE inserted) AS speakers "
        "FROM up GROUP BY owner, day) "
        f"INSERT INTO {table} ({key}, day, workspace_id{extra}, {', '.join(columns)}) "
        f"SELECT r.owner, r.day, r.workspace_id{selected}, "
        f"{', '.join(f'r.{c}' for c in COUNTS)}, coalesce(new.speakers, 0) "
        "FROM json_to_recordset(CAST(:days AS json)) AS r(owner text, day date, "
        f"workspace_id text, community_id text, {', '.join(f'{c} int' for c in COUNTS)}) "
        "LEFT JOIN new ON new.owner = r.owner AND new.day = r.day ORDER BY r.owner, r.day "
        f"ON CONFLICT ({key}, day) DO UPDATE SET "
        + ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in columns)
    )


_DAYS = {level: _days_statement(level) for level in ("group", "community")}


def _days_and_speakers(
    level: str, days: dict[tuple[str, date], GroupDay], owners: dict[str, tuple[str, str]]
) -> Write:
    """The rows of `_DAYS[level]`, in sorted order (owner, day, speaker): the days sorted, then
    each day's speakers, which sorts plain strings, not a thousand three-field tuples."""
    speakers: list[dict[str, object]] = []
    day_rows: list[dict[str, object]] = []
    for owner, day in sorted(days):
        (counts, spoke), (workspace, community) = days[(owner, day)], owners[owner]
        speakers += [
            {"o": owner, "d": day, "s": s, "c": community, "m": spoke[s][0], "r": spoke[s][1]}
            for s in sorted(spoke)
        ]
        day_rows.append(
            {
                "owner": owner,
                "day": day,
                "workspace_id": workspace,
                "community_id": community,
                **dict(zip(COUNTS, counts, strict=True)),
            }
        )
    return _DAYS[level], {"speakers": json_rows(speakers), "days": json_rows(day_rows)}
