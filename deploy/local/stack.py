"""The platform's processes (four services, the gateway and its webhook dispatcher) as `make run`
and the e2e tests start them: one uvicorn each, its own database, the same broker."""

import functools
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deploy.local.postgres import database_url, ensure_databases
from deploy.local.processes import spawn, stop, wait_until

# name, app factory, default port; the gateway starts after the services, its webhook
# dispatcher (which shares the gateway's database) after it.
PROCESSES = (
    ("members", "services.members.app:create_app", 8001),
    ("content", "services.content.app:create_app", 8002),
    ("events", "services.events.app:create_app", 8003),
    ("metrics", "services.metrics.app:create_app", 8004),
    ("gateway", "gateway.app:create_app", 8000),
    ("webhooks", "gateway.webhooks.app:create_app", 8005),
)
SERVICES = tuple(name for name, _, _ in PROCESSES)
# Processes that keep their data in another's database.
SHARED_DATABASE = {"webhooks": "gateway"}
# On one machine a developer points endpoints at a receiver of their own: loopback is
# allow-listed for webhook destinations here, and only here (`make run` says so).
LOCAL_WEBHOOK_NETWORKS = "127.0.0.0/8,::1/128"


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Stack:
    run_dir: Path
    database_server_url: str
    kafka_bootstrap_servers: str
    admin_api_key: str
    ports: dict[str, int] = field(default_factory=lambda: {n: p for n, _, p in PROCESSES})
    database_prefix: str = "qunyun_"
    internal_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    workspace_id: str = "ws_demo"
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    webhook_allowed_networks: str = LOCAL_WEBHOOK_NETWORKS
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def log_path(self, name: str) -> Path:
        return self.run_dir / "logs" / f"{name}.log"

    def env(self, name: str) -> dict[str, str]:
        env = {
            "QUNYUN_DATABASE_URL": database_url(
                self.database_server_url,
                self.database_prefix + SHARED_DATABASE.get(name, name),
            ),
            "QUNYUN_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "QUNYUN_INTERNAL_TOKEN": self.internal_token,
        }
        if name in ("gateway", "webhooks"):
            env["QUNYUN_WEBHOOK_ALLOWED_NETWORKS"] = self.webhook_allowed_networks
        if name == "gateway":
            env |= {
                f"QUNYUN_{s.upper()}_URL": self.url(s)
                for s in SERVICES
                if s not in ("gateway", *SHARED_DATABASE)
            }
            env |= {
                "QUNYUN_BOOTSTRAP_WORKSPACE_ID": self.workspace_id,
                "QUNYUN_BOOTSTRAP_API_KEY": self.admin_api_key,
            }
        if name == "content":
            # Content asks members who is in a segment when a one-to-one schedule fires.
            env["QUNYUN_MEMBERS_URL"] = self.url("members")
        return env | self.extra_env.get(name, {})

    def create_databases(self) -> None:
        ensure_databases(
            self.database_server_url,
            [self.database_prefix + n for n in SERVICES if n not in SHARED_DATABASE],
        )

    def start(self, *names: str, timeout: float = 90) -> None:
        """Start the processes together, then wait until each answers `/readyz`."""
        for name in names:
            self._spawn(name)
        for name in names:
            wait_until(
                functools.partial(_ready, self.url(name) + "/readyz"),
                timeout=timeout,
                what=name,
                process=self.processes[name],
                log_path=self.log_path(name),
            )

    def respawn(self, name: str) -> None:
        """Start a process again without waiting for it (the supervisor keeps watching)."""
        self._spawn(name)

    def _spawn(self, name: str) -> None:
        target = next(t for n, t, _ in PROCESSES if n == name)
        self.processes[name] = spawn(
            [
                sys.executable,
                "-m",
                "uvicorn",
                target,
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.ports[name]),
                "--no-access-log",
                "--log-level",
                "warning",
                "--timeout-graceful-shutdown",
                "10",
            ],
            log_path=self.log_path(name),
            env=self.env(name),
        )

    def start_all(self) -> None:
        self.create_databases()
        self.start(*(s for s in SERVICES if s not in ("gateway", "webhooks")))
        self.start("gateway")
        self.start("webhooks")

    def stop(self, name: str) -> None:
        stop(self.processes.pop(name, None))

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash would: no shutdown hooks run."""
        process = self.processes.pop(name)
        process.kill()
        process.wait()

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)
