"""Timing a call many times and summarising it as percentiles."""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Figures:
    runs: int
    p50: float  # milliseconds
    p95: float
    p99: float


def measure(call: Callable[[], object], *, runs: int, warmup: int = 3) -> Figures:
    """Run `call` `warmup` times unmeasured, then `runs` times measured."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return Figures(runs=runs, p50=statistics.median(samples), p95=cuts[94], p99=cuts[98])


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, ["-" * w for w in widths], *rows]
    return "\n".join(
        "  ".join(
            str(c).rjust(w) if i else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )
