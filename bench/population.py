"""A community of a million members, loaded with COPY in well under a minute.

The shape follows the seeds rather than uniform noise, because the planner's choices depend
on it: growth accelerates (more joined recently); ids are time-ordered, so id order is join
order; a third never spoke; activity decays; points are heavy-tailed; tag popularity is
Zipf-like; groups fill one after another (群活码), so a group holds a run of consecutive ids.
"""

import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from services.members.incentives.ledger import level_for

WORKSPACE = "ws_bench"
COMMUNITY = "cmt_bench"
TIMEZONE = "Asia/Shanghai"
THRESHOLDS = [0, 5, 20, 65, 155, 515, 2015, 8015, 33015]
TAG_CATEGORIES = ["spending", "interaction", "location", "birthday", "family", "custom"]
TAGS = 24
GROUP_CAPACITY = 500
HISTORY_DAYS = 3 * 365
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

STAGES = [
    ("aware", 3),
    ("joined", 40),
    ("communicating", 25),
    ("favourable", 12),
    ("active", 10),
    ("paying", 6),
    ("feedback", 2),
    ("referring", 2),
]
STATUSES = [("active", 88), ("muted", 4), ("removed", 6), ("banned", 1.5), ("merged", 0.5)]
ROLES = [("admin", 0.1), ("kol", 1), ("expert", 0.3), ("member", 98.6)]


@dataclass(frozen=True)
class Population:
    members: int
    tag_ids: list[str]  # by popularity, most common first
    group_ids: list[str]  # in filling order
    now: datetime


def _base32(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))


def _copy(conn: psycopg.Connection, table: str, columns: str, lines: Iterator[str]) -> None:
    """COPY text lines in, a few megabytes at a time."""
    with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buffer = io.StringIO()
        for n, line in enumerate(lines, 1):
            buffer.write(line)
            if n % 50_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())


def _ts(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def generate(conn: psycopg.Connection, *, members: int, seed: int = 20240501) -> Population:
    """Load one community with `members` members, their tags and groups; commits."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    end = now.timestamp()
    start = end - HISTORY_DAYS * 86400
    conn.execute(
        "INSERT INTO community (id, workspace_id, name, purpose, timezone, description,"
        " settings, created_at) VALUES (%s, %s, 'bench', 'interest', %s, '', '{}', %s)",
        (COMMUNITY, WORKSPACE, TIMEZONE, now - timedelta(days=HISTORY_DAYS)),
    )
    stage_names, stage_weights = zip(*STAGES, strict=True)
    status_names, status_weights = zip(*STATUSES, strict=True)
    role_names, role_weights = zip(*ROLES, strict=True)
    stages = rng.choices(stage_names, stage_weights, k=members)
    statuses = rng.choices(status_names, status_weights, k=members)
    roles = rng.choices(role_names, role_weights, k=members)
    ids: list[str] = []
    joined: list[float] = []
    # Tags are drawn first: member rows carry their tag ids (member.tag_ids) as well.
    tag_ids = [f"tag_bench{k:02d}" for k in range(TAGS)]
    tagged_members = [
        sorted(rng.sample(range(members), int(0.30 / (k + 1) ** 0.9 * members)))
        for k in range(TAGS)
    ]
    tags_of: list[list[str]] = [[] for _ in range(members)]
    for k, chosen in enumerate(tagged_members):
        for i in chosen:
            tags_of[i].append(tag_ids[k])

    def member_lines() -> Iterator[str]:
        previous = ""
        for i in range(members):
            # Joins accelerate: the share joined by time x grows like x².
            joined_at = start + (end - start) * (i / members) ** 0.5
            member_id = f"mbr_{_base32(int(joined_at * 1000), 10)}{_base32(i, 16)}"
            ids.append(member_id)
            joined.append(joined_at)
            status = statuses[i]
            if rng.random() < 0.35:  # never spoke
                last_active, messages, points = r"\N", 0, 0
            else:
                idle_days = min(rng.expovariate(1 / 60), (end - joined_at) / 86400)
                last_active = _ts(end - idle_days * 86400)
                messages = int(rng.paretovariate(1.1) * 3)
                points = min(int(rng.paretovariate(1.2) * 5) - 5 + messages, 100_000)
            merged_into = previous if status == "merged" and previous else r"\N"
            role = "owner" if i == 0 else roles[i]
            yield (
                f"{member_id}\t{WORKSPACE}\t{COMMUNITY}\t成员{i}\t{status}\t{role}\t"
                f"{stages[i]}\t{{}}\t{_base32(i, 8)}\t{messages}\t{last_active}\t{points}\t"
                f"{level_for(points, THRESHOLDS)}\t{merged_into}\t{_ts(joined_at)}\t"
                f"{_ts(joined_at)}\t{{{','.join(tags_of[i])}}}\n"
            )
            previous = member_id

    _copy(
        conn,
        "member",
        "id, workspace_id, community_id, display_name, status, role, stage, attributes,"
        " invite_code, message_count, last_active_at, points, level, merged_into, joined_at,"
        " created_at, tag_ids",
        member_lines(),
    )

    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO tag (id, workspace_id, community_id, name, category, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (t, WORKSPACE, COMMUNITY, f"标签{k}", TAG_CATEGORIES[k % 6], now)
                for k, t in enumerate(tag_ids)
            ],
        )
    stamp = _ts(end)

    def tag_lines() -> Iterator[str]:
        for tag_id, chosen in zip(tag_ids, tagged_members, strict=True):
            for i in chosen:
                yield f"{tag_id}\t{ids[i]}\t{WORKSPACE}\t{COMMUNITY}\tbench\t{stamp}\n"

    _copy(
        conn,
        "member_tag",
        "tag_id, member_id, workspace_id, community_id, tagged_by, tagged_at",
        tag_lines(),
    )

    # 70% are in a group; groups fill in join order, so each holds consecutive members.
    in_group = [i for i in range(members) if rng.random() < 0.7]
    group_count = max(1, -(-len(in_group) // GROUP_CAPACITY))
    group_ids = [f"grp_bench{g:05d}" for g in range(group_count)]
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO chat_group (id, workspace_id, community_id, platform, external_id,"
            " name, capacity, kind, state, position, created_at)"
            " VALUES (%s, %s, %s, 'wechat', %s, %s, %s, 'permanent', %s, %s, %s)",
            [
                (g, WORKSPACE, COMMUNITY, g, f"群{n}", GROUP_CAPACITY, "full", n, now)
                for n, g in enumerate(group_ids)
            ],
        )

    def membership_lines() -> Iterator[str]:
        for n, i in enumerate(in_group):
            left = _ts(end - rng.random() * 86400 * 30) if rng.random() < 0.1 else r"\N"
            group_id = group_ids[n // GROUP_CAPACITY]
            yield f"{group_id}\t{ids[i]}\t{WORKSPACE}\t{_ts(joined[i])}\t{left}\n"

    _copy(
        conn,
        "group_membership",
        "group_id, member_id, workspace_id, joined_at, left_at",
        membership_lines(),
    )
    conn.commit()
    return Population(members=members, tag_ids=tag_ids, group_ids=group_ids, now=now)
