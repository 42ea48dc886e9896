"""Start a throwaway Postgres (unless DATABASE_URL names a server), run every benchmark,
exit non-zero if any misses its target."""

import importlib
import os
import pkgutil
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bench
from deploy.local.postgres import PostgresServer
from deploy.local.processes import free_port


@contextmanager
def postgres() -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    # Not under a private temp folder: as root, the server runs as another user.
    data_dir = Path(tempfile.mkdtemp(prefix="qunyun-bench-pg-"))
    data_dir.chmod(0o755)
    server = PostgresServer(data_dir, port=free_port(), durable=False)
    try:
        server.start()
        yield server.url()
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> int:
    modules = [
        importlib.import_module(f"bench.{info.name}")
        for info in pkgutil.iter_modules(bench.__path__)
        if not info.name.startswith("_")
    ]
    benchmarks = [m for m in modules if hasattr(m, "benchmark")]
    failed = []
    with postgres() as url:
        for module in benchmarks:
            started = time.perf_counter()
            print(f"== {module.__name__}")
            if not module.benchmark(url):
                failed.append(module.__name__)
            print(f"== {module.__name__}: {time.perf_counter() - started:.0f}s\n")
    if failed:
        print(f"missed their targets: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
