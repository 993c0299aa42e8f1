"""A pool connection a hot loop keeps across its back-to-back statements.

`pool.fetch()` acquires a connection, runs the statement and releases it, and
asyncpg's release resets the session (`SELECT pg_advisory_unlock_all(); CLOSE
ALL; UNLISTEN *; RESET ALL;`): a second round trip after every statement,
awaited before the statement's rows are handed back. A producer fetching and a
completer flushing many times a second paid it on every fetch and every flush,
and the fetched jobs started only after it.

Held, the connection runs the loop's statements one after the other and goes
back to the pool (reset as usual) as soon as the loop is about to wait for
long (`release`), after any error (a broken connection is dropped by the pool,
the next statement gets a new one), and at the latest after MAX_HOLD seconds,
so the pool still recycles and resets its connections. The statements run this
way (FETCH_JOBS, COMPLETE_JOBS) leave no session state behind: no transaction,
setting, LISTEN, cursor or advisory lock, so nothing a reset would undo is
carried from one of them to the next.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

log = logging.getLogger("pqw.client")

# Longest a loop keeps one connection before handing it back for its reset.
MAX_HOLD = 1.0
# How long a loop keeps its connection while it waits: a busy loop (the next
# fetch once a slot frees, the next flush) is back well within this; an idle
# one hands the connection back, so idle loops hold no connection.
HOLD_WHILE_WAITING = 0.05


class HeldConnection:
    def __init__(self, pool: asyncpg.Pool[Any], *, max_hold: float = MAX_HOLD) -> None:
        self._pool = pool
        self._max_hold = max_hold
        self._conn: asyncpg.pool.PoolConnectionProxy[Any] | None = None
        self._since = 0.0

    @property
    def held(self) -> bool:
        return self._conn is not None

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        """Run `query` on the held connection (acquired first if none is held)."""
        if self._conn is not None and time.monotonic() - self._since > self._max_hold:
            await self.release()
        if self._conn is None:
            self._conn = await self._pool.acquire()
            self._since = time.monotonic()
        try:
            return await self._conn.fetch(query, *args)
        except BaseException:
            # Whatever went wrong (a lost connection, a refused statement, a
            # cancellation), the pool decides what the connection is still good for.
            await self.release()
            raise

    async def release(self) -> None:
        """Hand the connection back to the pool (which resets it), if one is held."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await self._pool.release(conn)
        except Exception as exc:
            # The pool has terminated the connection already (its reset failed).
            log.debug("pqw: releasing a held connection failed (%s)", exc)


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait for `event` up to `timeout` seconds (None: no limit); whether it is set."""
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def wait_then_release(
    event: asyncio.Event, timeout: float | None, release: Callable[[], Awaitable[None]]
) -> bool:
    """Wait for `event` up to `timeout`, calling `release()` once the wait has lasted
    HOLD_WHILE_WAITING; whether the event is set."""
    if timeout is not None and timeout <= HOLD_WHILE_WAITING:
        return await wait_event(event, timeout)
    if await wait_event(event, HOLD_WHILE_WAITING):
        return True
    await release()
    rest = None if timeout is None else timeout - HOLD_WHILE_WAITING
    return await wait_event(event, rest)
