"""Starting and stopping child processes so that none outlives the supervisor."""

import grp
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


@dataclass(frozen=True)
class Account:
    """An OS account a child runs as: its user, its primary group and its other groups."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]

    @classmethod
    def named(cls, name: str) -> "Account":
        """An existing account; KeyError when there is none of that name."""
        entry = pwd.getpwnam(name)
        return cls(name, entry.pw_uid, entry.pw_gid, tuple(os.getgrouplist(name, entry.pw_gid)))

    @property
    def group_name(self) -> str:
        try:
            return grp.getgrgid(self.gid).gr_name
        except KeyError:
            return str(self.gid)

    def popen_credentials(self) -> dict[str, Any]:
        """Popen arguments doing what `runuser` does: setgroups (initgroups' list), setgid,
        setuid, in that order, so the child keeps none of the caller's groups (root's group
        in particular, which a folder with closed group bits would otherwise let through)."""
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}


def spawn(
    args: list[str],
    *,
    log_path: Path,
    env: dict[str, str] | None = None,
    account: Account | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """A child in its own process group, output to a log file, optionally as another account."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
    return subprocess.Popen(
        args,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        cwd=cwd,
        **(account.popen_credentials() if account else {}),
    )


def stop(process: subprocess.Popen[bytes] | None, *, grace_seconds: float = 15) -> None:
    """SIGTERM the child's whole group, then SIGKILL what is left after the grace period."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(grace_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    process: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.2)
    tail = ""
    if log_path and log_path.exists():
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
    state = "exited" if process is not None and process.poll() is not None else "timed out"
    raise RuntimeError(f"{what} did not become ready ({state}). Last log lines:\n{tail}")


@dataclass
class RestartBackoff:
    """How long to wait before restarting a child that exited: 1 s, doubling up to 30 s while
    it keeps crashing; a child that had run a minute starts over at 1 s."""

    first_seconds: float = 1.0
    most_seconds: float = 30.0
    stable_after_seconds: float = 60.0
    _next: float = 0.0
    restarts: int = 0

    def after_exit(self, ran_seconds: float) -> float:
        if ran_seconds >= self.stable_after_seconds or self._next == 0:
            self._next = self.first_seconds
        delay = self._next
        self._next = min(self._next * 2, self.most_seconds)
        self.restarts += 1
        return delay
