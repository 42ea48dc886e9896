"""Metrics' park and replay on the real Postgres, each figure beside a baseline measured in the
same run:

1. parking: batches of 1,000 chat messages whose groups metrics does not know yet, against
   folding as many messages of known groups (the baseline). Target: parking at least half as
   fast as folding (it runs only for chat that comes before its group).
2. replay: the `group.created` of each of those groups, through the replica's handler, folding
   what was parked for it in its transaction, against the same handler for groups with
   nothing parked (the baseline). Every parked message must end in the rollups, once.
3. expiry: the periodic job deleting that many parked messages past the retention.

Size: BENCH_PARK_MESSAGES (20,000) per case, over 50 groups.
"""

import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from bench.timing import table
from deploy.local.postgres import database_url, ensure_databases
from services.common.cloudevents import CloudEvent
from services.common.contracts import ChatMessagePosted, CommunityCreated, GroupCreated
from services.common.db import make_engine, migrate
from services.metrics.app import HANDLERS, SPEC
from services.metrics.rollups.messages import fold_messages
from services.metrics.rollups.replay import expire_parked

TARGET_PARK_SHARE = 0.5
BATCH = 1000
GROUPS = 50
WORKSPACE = "ws_bench"
COMMUNITY = "cmt_bench"
START = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _event(data: ChatMessagePosted | GroupCreated | CommunityCreated) -> CloudEvent:
    return data.to_event(
        source="/bench", workspace_id=WORKSPACE, community_id=COMMUNITY, subject=None
    )


def _messages(rng: random.Random, count: int, first_group: int) -> list[CloudEvent]:
    return [
        _event(
            ChatMessagePosted(
                platform="wechat",
                group_external_id=f"wx_grp_{first_group + rng.randrange(GROUPS)}",
                sender_external_id=f"u{rng.randint(1, 2000)}",
                occurred_at=START + timedelta(seconds=i * 3),
                message_external_id=uuid.uuid4().hex,
                text=rng.choice(("大家好", "今天的分享很有收获", "谢谢老师", "打卡")),
                reply_to_external_id=None,
            )
        )
        for i in range(count)
    ]


def _group_created(n: int) -> CloudEvent:
    return _event(
        GroupCreated(
            group_id=f"grp_{n}",
            community_id=COMMUNITY,
            platform="wechat",
            external_id=f"wx_grp_{n}",
            name="g",
            kind="permanent",
            capacity=500,
            position=n,
            dissolve_at=None,
            segment_id=None,
            created_at=START - timedelta(days=1),
        )
    )


def _handle(engine: Engine, events: list[CloudEvent]) -> float:
    """Each event through its handler in its own transaction, as the consumer does; seconds."""
    started = time.perf_counter()
    for event in events:
        with Session(engine) as session, session.begin():
            HANDLERS[event.type](session, event)
    return time.perf_counter() - started


def _fold(engine: Engine, events: list[CloudEvent]) -> tuple[float, int, int]:
    """Fold in batches; (seconds, folded, parked)."""
    folded = parked = 0
    started = time.perf_counter()
    for i in range(0, len(events), BATCH):
        with Session(engine) as session, session.begin():
            result = fold_messages(session, events[i : i + BATCH])
        folded, parked = folded + result.folded, parked + result.parked
    return time.perf_counter() - started, folded, parked


def _count(engine: Engine, query: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(query)).scalar() or 0)


def benchmark(server_url: str) -> bool:
    count = int(os.environ.get("BENCH_PARK_MESSAGES", "20000"))
    name = f"bench_parking_{uuid.uuid4().hex[:6]}"
    ensure_databases(server_url, [name])
    engine = make_engine(database_url(server_url, name), pool_size=2)
    migrate(engine, SPEC.migrations_dir)
    rng = random.Random(5)
    community = CommunityCreated(
        community_id=COMMUNITY,
        name="bench",
        purpose="interest",
        timezone="Asia/Shanghai",
        created_at=START - timedelta(days=2),
    )
    _handle(engine, [_event(community)])
    known = _handle(engine, [_group_created(n) for n in range(1, GROUPS + 1)])

    fold_s, folded, _ = _fold(engine, _messages(rng, count, 1))
    park_s, _, parked = _fold(engine, _messages(rng, count, GROUPS + 1))
    replay_s = _handle(engine, [_group_created(n) for n in range(GROUPS + 1, 2 * GROUPS + 1)])
    in_rollups = _count(engine, "SELECT sum(messages) FROM community_day")
    left = _count(engine, "SELECT count(*) FROM parked_event")

    _fold(engine, _messages(rng, count, 2 * GROUPS + 1))  # groups nobody registers
    with Session(engine) as session, session.begin():
        started = time.perf_counter()
        expired = expire_parked(
            session, datetime.now(UTC) + timedelta(days=8), retention=timedelta(days=7)
        )
        expire_s = time.perf_counter() - started
    engine.dispose()

    print(
        table(
            [f"{count:,} chat messages, batches of {BATCH:,}", "messages/s", "target"],
            [
                ["baseline: fold, groups known", f"{count / fold_s:,.0f}", ""],
                [
                    "park, groups not known yet",
                    f"{count / park_s:,.0f}",
                    f">= {TARGET_PARK_SHARE:.0%} of the fold",
                ],
                [f"replay: {GROUPS} group.created folding them", f"{count / replay_s:,.0f}", ""],
                [
                    f"expiry job: {expired:,} parked past the retention",
                    f"{count / expire_s:,.0f}",
                    "",
                ],
            ],
        )
    )
    print(
        table(
            [f"{GROUPS} group.created through the handler", "ms each", ""],
            [
                ["baseline: nothing parked", f"{known / GROUPS * 1000:.1f}", ""],
                [
                    f"~{count // GROUPS:,} messages parked each",
                    f"{replay_s / GROUPS * 1000:.1f}",
                    "",
                ],
            ],
        )
    )
    print(
        f"folded {folded:,}, parked {parked:,}; in the rollups after the replay {in_rollups:,} "
        f"of {2 * count:,}; left parked {left}; expired {expired:,}"
    )
    return count / park_s >= TARGET_PARK_SHARE * count / fold_s and (
        folded,
        parked,
        in_rollups,
        left,
        expired,
    ) == (count, count, 2 * count, 0, count)
