"""Registrations per second with the waiting list under 100-way contention, next to
uncontended registrations in the same run, through the events service's own functions on
real Postgres (each registration its own transaction, as a request would be).

- contended: 100 threads register BENCH_REGISTRATIONS members for one session of 100 seats,
  so every registration queues on that session's row lock and most join the waiting list;
- uncontended: the same threads and count spread over 100 sessions, one per thread, so no
  two registrations wait on the same lock (same code, same waiting-list share);
- sequential: one thread, one session (a fifth of the count): one registration at a time with
  nobody in the way, which is what a session's lock makes of contention at best.

The run fails if a session holds more than its capacity, if a confirmed place went to a later
arrival than someone waiting, or if contended registrations fall under
TARGET_SHARE_OF_SEQUENTIAL of the sequential rate."""

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from bench.timing import table
from deploy.local.postgres import database_url, ensure_databases
from services.common.db import make_engine, migrate
from services.events.activities.lifecycle import transition
from services.events.activities.models import Activity, ActivityCreate, ActivityStatus
from services.events.activities.service import create_activity, sessions_of
from services.events.app import SPEC
from services.events.registration.models import RegistrationSource
from services.events.registration.service import register
from services.events.replica.models import Community

WORKSPACE = "ws_bench"
THREADS = 100
SEATS = 100
REGISTRATIONS = int(os.environ.get("BENCH_REGISTRATIONS", "1000"))
# Under one session's lock registrations go one at a time: the contended rate is bounded by
# the sequential one. The target says contention costs little beyond that serialisation.
TARGET_SHARE_OF_SEQUENTIAL = 0.7


def _setup(engine: Engine, *, sessions: int, count: int) -> tuple[str, str, list[str]]:
    """A community, an open activity with `sessions` sessions of SEATS places, members."""
    community_id = f"cmt_{uuid.uuid4().hex[:12]}"
    now = datetime.now(UTC)
    with Session(engine) as session:
        community = Community(
            id=community_id,
            workspace_id=WORKSPACE,
            name="bench",
            purpose="interest",
            timezone="Asia/Shanghai",
            updated_at=now,
        )
        session.add(community)
        session.flush()
        start = now + timedelta(days=30)
        activity = create_activity(
            session,
            community=community,
            body=ActivityCreate.model_validate(
                {
                    "kind": "meetup",
                    "title": "bench",
                    "starts_at": start.isoformat(),
                    "ends_at": (start + timedelta(hours=1)).isoformat(),
                    "capacity": SEATS,
                    "schedule": {"rrule": f"FREQ=DAILY;COUNT={sessions}"} if sessions > 1 else None,
                }
            ),
        )
        for target in (ActivityStatus.published, ActivityStatus.registration_open):
            transition(
                session,
                community=community,
                activity_id=activity.id,
                target=target,
                reason=None,
                now=now,
            )
        session_ids = [s.id for s in sessions_of(session, activity=activity)]
        session.commit()
        activity_id = activity.id
    members = [f"mbr_{community_id[4:]}_{i:05d}" for i in range(count)]
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO member (id, workspace_id, community_id, status, updated_at) "
                "SELECT m, :ws, :cid, 'active', now() FROM unnest(CAST(:ids AS text[])) AS m"
            ),
            {"ws": WORKSPACE, "cid": community_id, "ids": members},
        )
    return activity_id, community_id, session_ids


def _run(engine: Engine, *, threads: int, sessions: int, count: int) -> tuple[float, str]:
    activity_id, community_id, session_ids = _setup(engine, sessions=sessions, count=count)
    with Session(engine) as s:
        community = s.get(Community, community_id)
        assert community is not None
        s.expunge(community)
    member_ids = [f"mbr_{community_id[4:]}_{i:05d}" for i in range(count)]

    def one(i: int) -> None:
        with Session(engine) as session:
            activity = session.get(Activity, activity_id)
            assert activity is not None
            register(
                session,
                community=community,
                activity=activity,
                session_id=session_ids[i % len(session_ids)],
                member_id=member_ids[i],
                source=RegistrationSource.api,
                now=datetime.now(UTC),
            )
            session.commit()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(count)))
    rate = count / (time.perf_counter() - started)
    return rate, activity_id


def _check(engine: Engine, activity_id: str) -> list[str]:
    """What must hold whatever the speed: capacity never passed, waiting list in order."""
    problems = []
    with engine.connect() as conn:
        over = conn.execute(
            sa.text(
                "SELECT s.id, s.taken, count(r.id) FILTER (WHERE r.status = 'confirmed') "
                "FROM activity_session s LEFT JOIN registration r ON r.session_id = s.id "
                "WHERE s.activity_id = :a GROUP BY s.id, s.taken "
                "HAVING count(r.id) FILTER (WHERE r.status = 'confirmed') > :seats "
                "OR count(r.id) FILTER (WHERE r.status = 'confirmed') <> s.taken"
            ),
            {"a": activity_id, "seats": SEATS},
        ).all()
        if over:
            problems.append(f"sessions over capacity or miscounted: {over}")
        late_confirmed = conn.execute(
            sa.text(
                "SELECT count(*) FROM registration c JOIN registration w "
                "ON c.session_id = w.session_id AND c.status = 'confirmed' "
                "AND w.status = 'waitlisted' AND c.arrival > w.arrival WHERE c.activity_id = :a"
            ),
            {"a": activity_id},
        ).scalar_one()
        if late_confirmed:
            problems.append(f"{late_confirmed} confirmed places went to later arrivals")
    return problems


def benchmark(server_url: str) -> bool:
    name = f"bench_events_{uuid.uuid4().hex[:8]}"
    ensure_databases(server_url, [name])
    engine = make_engine(database_url(server_url, name), pool_size=THREADS // 2)
    migrate(engine, SPEC.migrations_dir)
    try:
        print(f"{REGISTRATIONS} registrations, {SEATS} seats per session, {THREADS} threads")
        n = REGISTRATIONS
        contended, contended_activity = _run(engine, threads=THREADS, sessions=1, count=n)
        uncontended, uncontended_activity = _run(engine, threads=THREADS, sessions=THREADS, count=n)
        sequential, sequential_activity = _run(engine, threads=1, sessions=1, count=n // 5)
        rows = [
            ["100-way contention, 1 session", f"{contended:.0f}"],
            ["uncontended, 100 sessions (baseline)", f"{uncontended:.0f}"],
            ["sequential, 1 thread, 1 session", f"{sequential:.0f}"],
        ]
        print(table(["registrations", "per second"], rows))
        problems = [
            *_check(engine, contended_activity),
            *_check(engine, uncontended_activity),
            *_check(engine, sequential_activity),
        ]
        if contended < TARGET_SHARE_OF_SEQUENTIAL * sequential:
            problems.append(
                f"contended {contended:.0f}/s is under {TARGET_SHARE_OF_SEQUENTIAL:.0%} "
                f"of sequential {sequential:.0f}/s"
            )
        for problem in problems:
            print("FAILED:", problem)
        return not problems
    finally:
        engine.dispose()
