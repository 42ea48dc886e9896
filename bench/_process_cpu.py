"""CPU seconds of the processes a benchmark runs against, read from `/proc`: a process and its
descendants (a uvicorn with workers, a postmaster and its backends), or whichever process
listens on a port (the Postgres or Kafka broker of the run). Linux only, as the benchmarks."""

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name, in parentheses, may hold spaces: the fields after it split cleanly.
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User and system CPU of one process (all its threads), and of its children it waited
    for (a backend that exited, a worker restarted)."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / _TICK


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def tree_cpu_seconds(pid: int) -> float:
    """CPU of `pid` and every descendant alive now."""
    children = _children()
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += cpu_seconds(current)
        todo.extend(children.get(current, []))
    return total


def listening_pid(port: int) -> int | None:
    """The process listening on TCP `port` of this machine, if this user may see it."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            parts = line.split()
            # local address `ADDR:PORT` in hex; state 0A is LISTEN
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(entry.name)
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return None


def threads_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU of one process's threads by kind: `main` (its first thread: uvicorn's event loop),
    `librdkafka` (threads librdkafka names `rdk:…`), `other` (Python's worker threads)."""
    kinds = {"main": 0.0, "librdkafka": 0.0, "other": 0.0}
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return kinds
    for task in tasks:
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        kind = (
            "main"
            if task.name == str(pid)
            else "librdkafka"
            if name.startswith("rdk:")
            else "other"
        )
        kinds[kind] += (int(fields[11]) + int(fields[12])) / _TICK
    return kinds
