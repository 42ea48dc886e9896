"""`make run`: the whole platform on this machine, in the foreground, until Ctrl-C or SIGTERM.

Starts Postgres and Kafka (unless DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS name existing ones),
creates databases and topics, starts the services and the gateway, seeds the demo workspace,
and prints where everything is. A process that exits is restarted, after 1 s and then longer
while it keeps crashing (up to 30 s). On the way out it stops every child it started.
"""

import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from deploy.local.demo import seed_demo
from deploy.local.kafka import KafkaBroker
from deploy.local.postgres import PostgresServer
from deploy.local.processes import RestartBackoff
from deploy.local.stack import LOCAL_WEBHOOK_NETWORKS, PROCESSES, Stack
from services.common.contracts import ALL_TOPICS
from services.common.kafka import ensure_topics

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / ".run"


class _Stop(Exception):
    """Ctrl-C or SIGTERM: leave whatever we are doing and stop everything."""


def _on_signal(signum: int, _frame: object) -> None:
    # Once is enough; a second signal must not interrupt the clean-up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Stop


def _secret(path: Path, make: Callable[[], str]) -> str:
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _say(message: str) -> None:
    print(f"[qunyun] {message}", flush=True)


def _supervise(stack: Stack) -> None:
    """Restart whichever process exits, with backoff, until Ctrl-C or SIGTERM (`_Stop`)."""
    started = dict.fromkeys(stack.processes, time.monotonic())
    backoffs = {name: RestartBackoff() for name in stack.processes}
    due: dict[str, float] = {}  # name -> when to restart it
    while True:
        now = time.monotonic()
        for name, process in stack.processes.items():
            if name in due or process.poll() is None:
                continue
            delay = backoffs[name].after_exit(now - started[name])
            due[name] = now + delay
            _say(
                f"{name} exited with {process.returncode} after {now - started[name]:.0f} s; "
                f"restarting it in {delay:g} s (restart {backoffs[name].restarts}); "
                f"see .run/logs/{name}.log"
            )
        for name, at in list(due.items()):
            if now >= at:
                del due[name]
                started[name] = time.monotonic()
                stack.respawn(name)
                _say(f"{name} restarted")
        time.sleep(0.5)


def main() -> int:
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    RUN.mkdir(exist_ok=True)
    started = time.monotonic()
    postgres = kafka = stack = None
    try:
        database = os.environ.get("DATABASE_URL")
        if not database:
            postgres = PostgresServer(
                RUN / "pg", port=int(os.environ.get("QUNYUN_LOCAL_PG_PORT", 15432))
            )
            _say(f"starting Postgres on 127.0.0.1:{postgres.port} (data in .run/pg)")
            postgres.start()
            if postgres.home:
                _say(f"as root, Postgres runs as an unprivileged account; data in {postgres.home}")
            database = postgres.url()
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            kafka = KafkaBroker(RUN / "kafka")
            _say(f"starting Kafka on {kafka.bootstrap_servers} (data in .run/kafka)")
            kafka.start()
            bootstrap = kafka.bootstrap_servers
        ensure_topics(
            bootstrap, ALL_TOPICS, partitions=int(os.environ.get("QUNYUN_KAFKA_PARTITIONS", 3))
        )
        stack = Stack(
            run_dir=RUN,
            database_server_url=database,
            kafka_bootstrap_servers=bootstrap,
            admin_api_key=_secret(RUN / "admin-key", lambda: "qy_" + secrets.token_urlsafe(32)),
            internal_token=_secret(RUN / "internal-token", lambda: secrets.token_urlsafe(32)),
        )
        _say("starting services, the gateway and its webhook dispatcher (logs in .run/logs/)")
        _say(
            f"webhook destinations on loopback ({LOCAL_WEBHOOK_NETWORKS}) are allow-listed, "
            "so endpoints may point at a receiver on this machine; production allows none"
        )
        stack.start_all()
        community_id = seed_demo(stack.url("gateway"), stack.admin_api_key)
        _say(f"ready in {time.monotonic() - started:.1f} s")
        print(
            f"""
  gateway   {stack.url("gateway")}        API docs: {stack.url("gateway")}/docs
  services  {", ".join(f"{n} :{stack.ports[n]}" for n, _, _ in PROCESSES if n != "gateway")}
  Kafka     {bootstrap}    Postgres {database}
  demo workspace {stack.workspace_id}, community {community_id}
  admin API key  {stack.admin_api_key}   (also in .run/admin-key)

  try:
    curl -H "Authorization: Bearer $(cat .run/admin-key)" \\
      {stack.url("gateway")}/v1/metrics/communities/{community_id}/overview
  Ctrl-C stops everything.
""",
            flush=True,
        )
        _supervise(stack)
        return 0
    except _Stop:
        return 0
    except Exception as exc:
        _say(f"failed: {exc}")
        return 1
    finally:
        _say("stopping")
        if stack:
            stack.stop_all()
        if kafka:
            kafka.stop()
        if postgres:
            postgres.stop()
        _say("stopped")


if __name__ == "__main__":
    sys.exit(main())
