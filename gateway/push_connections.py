"""The push path's own connections to the gateway's database: psycopg's async connections in
autocommit, awaited on the event loop.

A bot's push is one statement (the delivery and its outbox row). Through the service's
SQLAlchemy engine it cost a hop to a worker thread and back, the engine's bookkeeping, and a
`SELECT 1` round trip before every checkout (`pool_pre_ping`), about as much again as the push
itself. Here a connection is not pinged: one the database dropped (a restart since it was last
used) fails its statement at once, and that statement runs once more on a new connection, so a
Postgres restart costs a push nothing once the database is back; while it is down the
statement's error answers 503 as every other outage does.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg
from psycopg import pq

T = TypeVar("T")


def _libpq_url(url: str) -> str:
    """The service's SQLAlchemy URL as libpq reads it (without the `+psycopg` driver name)."""
    scheme, sep, rest = url.partition("://")
    return scheme.split("+", 1)[0] + sep + rest


class PushConnections:
    """At most `size` connections, kept open between pushes; a push waits up to
    `acquire_seconds` for one to be free, as the engine's pool would."""

    def __init__(
        self,
        url: str,
        *,
        size: int = 8,
        acquire_seconds: float = 5,
        connect_seconds: int = 3,
    ):
        self._url = _libpq_url(url)
        self._idle: list[psycopg.AsyncConnection] = []
        self._free = asyncio.Semaphore(size)
        self._acquire_seconds, self._connect_seconds = acquire_seconds, connect_seconds

    async def run(self, work: Callable[[psycopg.AsyncConnection], Awaitable[T]]) -> T:
        """`work` on a connection of the pool. A kept connection found broken is dropped and
        `work` runs once more on a new one: the statements it runs must be safe to repeat."""
        if self._free.locked():
            try:
                await asyncio.wait_for(self._free.acquire(), self._acquire_seconds)
            except TimeoutError as exc:
                raise psycopg.OperationalError(
                    f"no database connection free within {self._acquire_seconds:g} s"
                ) from exc
        else:
            await self._free.acquire()
        try:
            kept = bool(self._idle)
            conn = self._idle.pop() if kept else await self._connect()
            try:
                return await self._attempt(conn, work)
            except psycopg.OperationalError:
                if not (kept and (conn.broken or conn.closed)):
                    raise
            return await self._attempt(await self._connect(), work)
        finally:
            self._free.release()

    async def _attempt(
        self, conn: psycopg.AsyncConnection, work: Callable[[psycopg.AsyncConnection], Awaitable[T]]
    ) -> T:
        try:
            result = await work(conn)
        except BaseException:
            await self._put_back(conn)
            raise
        await self._put_back(conn)
        return result

    async def _connect(self) -> psycopg.AsyncConnection:
        return await psycopg.AsyncConnection.connect(
            self._url, autocommit=True, connect_timeout=self._connect_seconds
        )

    async def _put_back(self, conn: psycopg.AsyncConnection) -> None:
        """Kept for the next push when it is idle and whole; dropped otherwise (a statement
        cancelled half-way leaves it busy)."""
        if (
            not (conn.closed or conn.broken)
            and conn.info.transaction_status == pq.TransactionStatus.IDLE
        ):
            self._idle.append(conn)
        else:
            await self._drop(conn)

    @staticmethod
    async def _drop(conn: psycopg.AsyncConnection) -> None:
        with contextlib.suppress(psycopg.Error):  # already gone with the database
            await conn.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await self._drop(conn)
