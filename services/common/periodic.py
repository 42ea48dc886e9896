"""Jobs a service runs on a timer (dissolving temporary groups, prune runs, expiring mutes).

Each pass runs in one transaction under an advisory lock named for the job, so with several
replicas one runs it at a time, and whatever it emits goes through the outbox with its change.
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from prometheus_client import Counter, Histogram
from sqlalchemy import Engine
from sqlmodel import Session

log = logging.getLogger(__name__)

PERIODIC_RUNS = Counter(
    "qunyun_periodic_runs_total",
    "Passes of periodic jobs, by outcome (done, skipped, failed).",
    ["job", "outcome"],
)
PERIODIC_SECONDS = Histogram("qunyun_periodic_run_seconds", "Time one pass of a job took.", ["job"])


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every_seconds: float
    # One pass: given a session inside a transaction and the time, returns how much it did.
    run: Callable[[Session, datetime], int]


def run_job_once(engine: Engine, job: PeriodicJob, now: datetime | None = None) -> int | None:
    """One pass of `job`; None when another replica holds it right now."""
    with Session(engine) as session, session.begin():
        locked = session.execute(
            sa.select(sa.func.pg_try_advisory_xact_lock(sa.func.hashtext("job:" + job.name)))
        ).scalar()
        if not locked:
            PERIODIC_RUNS.labels(job.name, "skipped").inc()
            return None
        started = time.perf_counter()
        done = job.run(session, now or datetime.now(UTC))
    PERIODIC_SECONDS.labels(job.name).observe(time.perf_counter() - started)
    PERIODIC_RUNS.labels(job.name, "done").inc()
    return done


def run_periodic(engine: Engine, jobs: Sequence[PeriodicJob], stop: threading.Event) -> None:
    """Run every job at its interval until `stop` is set; a failing pass is logged and retried."""
    due = dict.fromkeys((job.name for job in jobs), 0.0)
    while not stop.is_set():
        for job in jobs:
            if time.monotonic() < due[job.name]:
                continue
            due[job.name] = time.monotonic() + job.every_seconds
            try:
                run_job_once(engine, job)
            except Exception:
                PERIODIC_RUNS.labels(job.name, "failed").inc()
                log.exception("periodic job failed", extra={"job": job.name})
        stop.wait(max(0.05, min(due.values()) - time.monotonic()))
