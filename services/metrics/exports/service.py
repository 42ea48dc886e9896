"""CSV of any report, written row by row: a year of days streams without being held whole.

Rows are produced in chunks, each read in its own short session, so a long download never
holds one transaction open while the client reads slowly.
"""

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from services.metrics.replica.models import Community
from services.metrics.rollups.daily import Scope, daily_stats
from services.metrics.rollups.models import DayStats

CHUNK_DAYS = 31
DAY_COLUMNS = [name for name in DayStats.model_fields if name != "violations_by_kind"]


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """The header row, then each row, as UTF-8 CSV lines (with a BOM, for spreadsheets)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield ("\ufeff" + buffer.getvalue()).encode()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(["" if value is None else value for value in row])
        yield buffer.getvalue().encode()


def daily_rows(
    engine: Engine, *, community: Community, group_id: str | None, first: date, last: date
) -> Iterator[list[Any]]:
    """Every daily stat of each day, a month of days per read; kinds of violation as
    `kind:count` pairs separated by spaces."""
    start = first
    while start <= last:
        end = min(start + timedelta(days=CHUNK_DAYS - 1), last)
        with Session(engine) as session:
            days = daily_stats(session, scope=Scope(community, group_id), first=start, last=end)
        for stats in days:
            kinds = " ".join(f"{k}:{v}" for k, v in stats.violations_by_kind.items())
            yield [*(getattr(stats, c) for c in DAY_COLUMNS), kinds]
        start = end + timedelta(days=1)


def rows_of(
    engine: Engine, produce: Callable[[Session], Iterable[Sequence[Any]]]
) -> Iterator[Sequence[Any]]:
    """Rows a report makes in one read, in a session of their own."""
    with Session(engine) as session:
        rows = list(produce(session))
    yield from rows
