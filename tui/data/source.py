"""Where the dashboard's AdminApi comes from: the engine's Admin, or the sample cluster.

The dashboard reads and acts through `engine.admin.AdminApi` and nothing else;
a Connector only opens one, and drops it after a loss.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from engine.admin import Admin, AdminApi, describe_dsn

CLOSE_TIMEOUT = 2.0
# How long a pool dropped after a failed poll may wait for the calls still using
# it (each is bounded by the feed's 10 s QUERY_TIMEOUT) before it is cut.
RETIRE_TIMEOUT = 15.0

T = TypeVar("T")

# One read or action of the operator, given the open AdminApi.
AdminCall = Callable[[AdminApi], Awaitable[T]]


class Connector(Protocol):
    """Opens the AdminApi the feed goes through; the real one is AdminSource."""

    @property
    def database(self) -> str:
        """Where the data comes from, for the header; never with a password."""
        ...

    @property
    def dsn(self) -> str:
        """The URL a failed connection is told by (connection_failure hides its password)."""
        ...

    async def open(self) -> AdminApi:
        """The AdminApi, connected first if it is not (DatabaseUnavailable, SchemaError)."""
        ...

    async def reset(self) -> None:
        """Drop the connections after a loss; the next open() connects afresh."""

    async def close(self) -> None: ...


class AdminSource:
    """The engine's Admin over a small asyncpg pool, opened lazily and reopened after a loss."""

    def __init__(
        self,
        dsn: str,
        *,
        direct_dsn: str | None = None,
        pool_mode: str | None = None,
        pool_size: int = 3,
    ) -> None:
        self._dsn = dsn
        self._direct_dsn = direct_dsn
        self._pool_mode = pool_mode
        self._pool_size = pool_size
        self._admin: Admin | None = None
        # The poll and an action (or a screen's own read) can both find no pool
        # open; one of them connects and the other waits for it. Two connecting
        # at once would each make a pool, and the one overwritten would never close.
        self._opening = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()

    @property
    def database(self) -> str:
        return describe_dsn(self._dsn)

    @property
    def dsn(self) -> str:
        return self._dsn

    async def open(self) -> Admin:
        async with self._opening:
            if self._admin is None:
                self._admin = await Admin.connect(
                    self._dsn,
                    direct_dsn=self._direct_dsn,
                    pool_mode=self._pool_mode,
                    pool_size=self._pool_size,
                    application_name="pqw-tui",
                )
            return self._admin

    async def reset(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            # Retired, not cut: a failed poll says nothing of the connection an
            # operator's action is using (a slow overview, or one connection of the
            # three lost), and cutting it would fail a bulk action mid-batch. That
            # action ends within its own timeout; then the old pool closes.
            task = asyncio.create_task(_retire(admin))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def close(self) -> None:
        for task in list(self._retiring):
            task.cancel()  # a retiring pool is cut at once (see _retire)
        await asyncio.gather(*self._retiring, return_exceptions=True)
        admin, self._admin = self._admin, None
        if admin is None:
            return
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await admin.close()
        except Exception:
            # A pool whose server is gone may never finish a polite close.
            admin.terminate()


async def _retire(admin: Admin) -> None:
    """Close `admin`'s pool once its connections in use come back; cut it after
    RETIRE_TIMEOUT, on cancellation, or if closing fails (asyncpg's pool.close()
    terminates the pool itself when it is interrupted)."""
    try:
        async with asyncio.timeout(RETIRE_TIMEOUT):
            await admin.close()
    except asyncio.CancelledError:
        admin.terminate()
        raise
    except Exception:
        admin.terminate()
