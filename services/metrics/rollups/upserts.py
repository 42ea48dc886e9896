"""The fold's upserts: a batch's counts added to the rollup tables, one statement per table,
each key once and in sorted order (see `messages.py` for why)."""

from collections import Counter
from datetime import UTC, date, datetime

import orjson
import sqlalchemy as sa
from sqlmodel import Session

COUNTS = ("messages", "member_messages", "operator_messages", "negative_messages", "replies")
# A day of a group (or community) in a batch: its `COUNTS`, and its members who spoke, each
# with [messages, replies].
GroupDay = tuple[list[int], dict[str, list[int]]]


def json_rows(rows: list[dict[str, object]]) -> str:
    """A batch's rows as one JSON parameter: Postgres expands it with `json_to_recordset`,
    which costs far less to send than one array parameter per column."""
    return orjson.dumps(rows).decode()


def add_hours_and_replies(
    session: Session,
    hours: dict[tuple[str, float], list[int]],
    replied: dict[tuple[str, str], int],
    repliers: set[tuple[str, str, str]],
) -> None:
    """What content response reads: messages per group hour, replies per replied message."""
    if hours:
        session.execute(
            sa.text(
                "INSERT INTO group_hour (group_id, hour, messages, member_messages) "
                "SELECT g, h, m, mm FROM json_to_recordset(CAST(:rows AS json)) "
                "AS r(g text, h timestamptz, m int, mm int) "
                "ON CONFLICT (group_id, hour) DO UPDATE SET "
                "messages = group_hour.messages + excluded.messages, "
                "member_messages = group_hour.member_messages + excluded.member_messages"
            ),
            {
                "rows": json_rows(
                    [
                        {
                            "g": g,
                            "h": datetime.fromtimestamp(h, UTC),
                            "m": hours[(g, h)][0],
                            "mm": hours[(g, h)][1],
                        }
                        for g, h in sorted(hours)
                    ]
                )
            },
        )
    if replied:
        session.execute(
            sa.text(
                "INSERT INTO reply_target (group_id, message_external_id, replies) "
                "SELECT g, x, n FROM json_to_recordset(CAST(:rows AS json)) "
                "AS r(g text, x text, n int) "
                "ON CONFLICT (group_id, message_external_id) DO UPDATE SET "
                "replies = reply_target.replies + excluded.replies"
            ),
            {
                "rows": json_rows(
                    [{"g": g, "x": x, "n": replied[(g, x)]} for g, x in sorted(replied)]
                )
            },
        )
    if repliers:
        session.execute(
            sa.text(
                "INSERT INTO reply_target_speaker (group_id, message_external_id, speaker) "
                "SELECT g, x, s FROM json_to_recordset(CAST(:rows AS json)) "
                "AS r(g text, x text, s text) ON CONFLICT DO NOTHING"
            ),
            {"rows": json_rows([{"g": g, "x": x, "s": sp} for g, x, sp in sorted(repliers)])},
        )


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


# The speaker-day upserts of a group's and of a community's day; each answers how many of
# the rows were new, per day (`xmax = 0` marks a row inserted, not updated).
_ADD_SPEAKERS = {
    "group": sa.text(
        "WITH up AS (INSERT INTO group_speaker_day "
        "(group_id, day, speaker, community_id, messages) "
        "SELECT o, d, s, c, m FROM json_to_recordset(CAST(:rows AS json)) "
        "AS r(o text, d date, s text, c text, m int) "
        "ON CONFLICT (group_id, day, speaker) DO UPDATE "
        "SET messages = group_speaker_day.messages + excluded.messages "
        "RETURNING group_id, day, (xmax = 0) AS inserted) "
        "SELECT group_id, day, count(*) FROM up WHERE inserted GROUP BY group_id, day"
    ),
    "community": sa.text(
        "WITH up AS (INSERT INTO community_speaker_day "
        "(community_id, day, speaker, messages, replies) "
        "SELECT o, d, s, m, r FROM json_to_recordset(CAST(:rows AS json)) "
        "AS x(o text, d date, s text, c text, m int, r int) "
        "ON CONFLICT (community_id, day, speaker) DO UPDATE "
        "SET messages = community_speaker_day.messages + excluded.messages, "
        "replies = community_speaker_day.replies + excluded.replies "
        "RETURNING community_id, day, (xmax = 0) AS inserted) "
        "SELECT community_id, day, count(*) FROM up WHERE inserted GROUP BY community_id, day"
    ),
}


def add_speakers(
    session: Session,
    level: str,
    days: dict[tuple[str, date], GroupDay],
    owners: dict[str, tuple[str, str]],
) -> Counter[tuple[str, date]]:
    """Add each speaker's messages (and replies) to their group's or community's (`level`)
    day; returns the new speakers of each day. Rows go in sorted by (owner, day, speaker):
    the days sorted, then each day's speakers, which sorts plain strings, not a thousand
    three-field tuples."""
    rows = []
    for owner, day in sorted(days):
        speakers, community = days[(owner, day)][1], owners[owner][1]
        rows += [
            {"o": owner, "d": day, "s": s, "c": community, "m": speakers[s][0], "r": speakers[s][1]}
            for s in sorted(speakers)
        ]
    if not rows:
        return Counter()
    found = session.execute(_ADD_SPEAKERS[level], {"rows": json_rows(rows)})
    return Counter({(r[0], r[1]): r[2] for r in found})


def add_days(
    session: Session,
    table: str,
    key: str,
    days: dict[tuple[str, date], GroupDay],
    new_speakers: Counter[tuple[str, date]],
    owners: dict[str, tuple[str, str]],
) -> None:
    """Add the batch's counts to each (owner, day) row of `table`, once per row."""
    if not days:
        return
    columns = [*COUNTS, "speakers"]
    extra = ", community_id" if table == "group_day" else ""
    assignments = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in columns)
    rows = [
        {
            "owner": owner,
            "day": day,
            "workspace_id": owners[owner][0],
            "community_id": owners[owner][1],
            **dict(zip(COUNTS, days[(owner, day)][0], strict=True)),
            "speakers": new_speakers[(owner, day)],
        }
        for owner, day in sorted(days)
    ]
    record = ", ".join(f"{c} int" for c in columns)
    session.execute(
        sa.text(
            f"INSERT INTO {table} ({key}, day, workspace_id{extra}, {', '.join(columns)}) "
            f"SELECT owner, day, workspace_id{extra}, {', '.join(columns)} "
            "FROM json_to_recordset(CAST(:rows AS json)) AS r(owner text, day date, "
            f"workspace_id text, community_id text, {record}) "
            f"ON CONFLICT ({key}, day) DO UPDATE SET {assignments}"
        ),
        {"rows": json_rows(rows)},
    )
