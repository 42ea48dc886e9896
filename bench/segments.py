"""Segment count and first page on one community of a million members (BENCH_MEMBERS), through
the service's own functions, against a baseline measured in the same run: the same segments
with migration 0201's member indexes absent (tag and group keys stay: they are the tables'
primary keys). The target is a p95 under 300 ms for both the count and the first page."""

import os
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from bench.population import COMMUNITY, TIMEZONE, Population, generate
from bench.timing import Figures, measure, table
from deploy.local.postgres import database_url, ensure_databases
from services.common.db import make_engine, migrate
from services.common.http.pagination import PageParams
from services.members.community.models import Community, Member
from services.members.segments.rules import SegmentRules
from services.members.segments.sql import conditions, count_members, members_page, page_query

TARGET_P95_MS = 300.0
INDEX_PREFIX = "ix_member_segment_"
PAGE = PageParams(limit=50, cursor=None)


def cases(population: Population) -> list[tuple[str, SegmentRules]]:
    """Segments an operator would save, from the seeds' campaigns."""
    tags, groups = population.tag_ids, population.group_ids
    local = population.now.astimezone(ZoneInfo(TIMEZONE))
    month_start = datetime(local.year, local.month, 1, tzinfo=ZoneInfo(TIMEZONE))
    raw: list[tuple[str, dict[str, Any]]] = [
        (
            "tag A, not tag B, level>=3, active 30d",
            {
                "tags": {"all": [tags[2]], "none": [tags[0]]},
                "level": {"min": 3},
                "last_active": {"active_within_days": 30},
            },
        ),
        ("in group G, role kol", {"groups": {"any": [groups[len(groups) // 2]]}, "role": ["kol"]}),
        (
            "joined this month, stage joined",
            {"joined": {"from": month_start.isoformat()}, "stage": ["joined"]},
        ),
        ("experts and kols, level>=5", {"role": ["kol", "expert"], "level": {"min": 5}}),
        (
            "inactive 30d with a spending tag",
            {"last_active": {"inactive_days": 30}, "tags": {"any": [tags[0], tags[6]]}},
        ),
        ("everyone (active and muted)", {}),
    ]
    return [(name, SegmentRules.model_validate(rules)) for name, rules in raw]


def _segment_indexes(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE tablename = 'member' AND indexname LIKE :prefix"
            ),
            {"prefix": INDEX_PREFIX + "%"},
        )
        return {name: definition for name, definition in rows}


def _vacuum_analyze(url: str) -> None:
    # Autovacuum would get there; a benchmark should not wait for it. Index-only scans need
    # the visibility map that VACUUM sets.
    with psycopg.connect(url, autocommit=True) as conn:
        for table_name in ("member", "member_tag", "group_membership", "chat_group", "tag"):
            conn.execute(f"VACUUM (ANALYZE) {table_name}")


def _explain(engine: Engine, community: Community, rules: SegmentRules, at: datetime) -> str:
    """The plans of the count and of the first page, as the service runs them."""
    where = conditions(
        rules,
        workspace_id=community.workspace_id,
        community_id=community.id,
        timezone=community.timezone,
        at=at,
    )
    plans = []
    with Session(engine) as session:
        page = page_query(session=session, community=community, rules=rules, paging=PAGE, at=at)
        for query in (select(func.count()).select_from(Member).where(*where), page):
            compiled = query.compile(
                dialect=engine.dialect, compile_kwargs={"render_postcompile": True}
            )
            rows = session.connection().exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + str(compiled), compiled.params
            )
            plans.append("\n".join(r[0] for r in rows))
    return "\n\n".join(plans)


def _timed(
    engine: Engine, community: Community, population: Population, runs: int
) -> dict[str, tuple[int, Figures, Figures]]:
    results = {}
    for name, rules in cases(population):

        def count(rules: SegmentRules = rules) -> int:
            with Session(engine) as session:
                return count_members(session=session, community=community, rules=rules)

        def first_page(rules: SegmentRules = rules) -> object:
            with Session(engine) as session:
                return members_page(session=session, community=community, rules=rules, paging=PAGE)

        results[name] = (count(), measure(count, runs=runs), measure(first_page, runs=runs))
        if os.environ.get("BENCH_EXPLAIN"):
            print(f"--- {name}\n{_explain(engine, community, rules, population.now)}\n")
    return results


def _full_count(engine: Engine, runs: int) -> Figures:
    def count() -> object:
        with engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT count(*) FROM member WHERE community_id = :c"), {"c": COMMUNITY}
            ).scalar()

    return measure(count, runs=runs)


def _ms(value: float) -> str:
    return f"{value:.1f}"


def benchmark(server_url: str) -> bool:
    members = int(os.environ.get("BENCH_MEMBERS", "1000000"))
    runs = int(os.environ.get("BENCH_RUNS", "30"))
    name = f"bench_{uuid.uuid4().hex[:8]}"
    ensure_databases(server_url, [name])
    url = database_url(server_url, name)
    engine = make_engine(url, pool_size=2)
    try:
        migrate(engine, Path("services/members/migrations"))
        indexes = _segment_indexes(engine)
        with engine.begin() as conn:  # load without them: faster, and the baseline needs it
            for index in indexes:
                conn.execute(sa.text(f"DROP INDEX {index}"))
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            population = generate(conn, members=members)
        loaded = time.perf_counter() - started
        _vacuum_analyze(url)
        print(
            f"segments: {members:,} members loaded in {loaded:.1f}s; {runs} runs per figure;"
            f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        with Session(engine) as session:
            community = session.get_one(Community, COMMUNITY)
            session.expunge(community)
        full = _full_count(engine, runs)
        baseline = _timed(engine, community, population, runs)
        started = time.perf_counter()
        with engine.begin() as conn:
            for definition in indexes.values():
                conn.execute(sa.text(definition))
        _vacuum_analyze(url)
        print(f"segments: built {len(indexes)} indexes in {time.perf_counter() - started:.1f}s")
        indexed = _timed(engine, community, population, runs)
    finally:
        engine.dispose()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')

    rows = []
    worst = 0.0
    for case, (matched, count_with, page_with) in indexed.items():
        _, count_without, page_without = baseline[case]
        for op, with_, without in (
            ("count", count_with, count_without),
            ("page", page_with, page_without),
        ):
            worst = max(worst, with_.p95)
            rows.append(
                [
                    case if op == "count" else "",
                    op,
                    f"{matched:,}" if op == "count" else str(PAGE.limit),
                    _ms(without.p50),
                    _ms(without.p95),
                    _ms(with_.p50),
                    _ms(with_.p95),
                    _ms(with_.p99),
                ]
            )
    headers = ["segment", "op", "rows", "base p50", "base p95", "p50", "p95", "p99"]
    print(table(headers, rows))
    print(
        f"baseline (base): the same calls without migration 0201's member indexes. "
        f"For scale, a bare count(*) of the community: p50 {_ms(full.p50)} ms, "
        f"p95 {_ms(full.p95)} ms. All figures in ms."
    )
    passed = worst < TARGET_P95_MS
    verdict = "PASS" if passed else "FAIL"
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{verdict}: worst p95 {_ms(worst)} ms against a target of {TARGET_P95_MS:.0f} ms")
    return passed
