"""Start a throwaway Postgres (unless DATABASE_URL names a server), run every benchmark (or
those named: `python -m bench webhooks`), exit non-zero if any misses its target."""

import importlib
import pkgutil
import sys
import time

import bench
from deploy.local.postgres import throwaway_server


def main() -> int:
    modules = [
        importlib.import_module(f"bench.{info.name}")
        for info in pkgutil.iter_modules(bench.__path__)
        if not info.name.startswith("_")
    ]
    wanted = set(sys.argv[1:])
    benchmarks = [
        m
        for m in modules
        if hasattr(m, "benchmark") and (not wanted or m.__name__.removeprefix("bench.") in wanted)
    ]
    if unknown := wanted - {m.__name__.removeprefix("bench.") for m in benchmarks}:
        print(f"no such benchmark: {', '.join(sorted(unknown))}")
        return 2
    failed = []
    with throwaway_server("qunyun-bench-pg-") as url:
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
