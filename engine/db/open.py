"""Opening a client's pool: find the database, connect, and check (or bring up) its schema."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from engine.db import migrate
from engine.db.dsn import Database, configured_dsn, resolve_database
from engine.db.outage import connection_failure, is_connection_error, pooler_misconfigured
from engine.db.pool import connect, create_pool

log = logging.getLogger("pqw.client")


async def open_pool(
    dsn_option: str | None,
    *,
    direct_dsn: str | None = None,
    pool_mode: str | None = None,
    application_name: str,
    max_size: int,
    auto_migrate: bool | None,
) -> tuple[Database, asyncpg.Pool[Any]]:
    """The database used and a pool on its main URL whose schema is current.

    auto_migrate None migrates the embedded server (nobody else's schema is
    ours to change) and only checks a configured database (SchemaError when
    behind). Migrations go to the direct URL when there is one.
    """
    embedded = configured_dsn(dsn_option) is None
    # Starting the embedded server blocks for a moment: not on the event loop.
    database = await asyncio.to_thread(resolve_database, dsn_option, direct_dsn, pool_mode)
    pool = await create_pool(
        database.url,
        min_size=1,
        max_size=max_size,
        server_settings={"application_name": application_name},
    )
    try:
        if embedded if auto_migrate is None else auto_migrate:
            await migrate_database(database, application_name=application_name)
        async with pool.acquire() as conn:
            await migrate.check_schema(conn)
    except BaseException as exc:
        await pool.close()
        misconfigured = pooler_misconfigured(exc)
        if misconfigured is not None:
            raise misconfigured from exc
        if isinstance(exc, Exception) and is_connection_error(exc):
            raise connection_failure(database.url, exc) from exc
        raise
    return database, pool


async def migrate_database(database: Database, *, application_name: str = "pqw migrate") -> None:
    """Apply every pending migration, on the direct URL when there is one."""
    conn = await connect(database.migration_url, application_name=application_name)
    try:
        await migrate.migrate_up(conn)
    finally:
        await conn.close()


class ClientPool:
    """A client's connection to its database: opened once on first use, closed on stop."""

    def __init__(
        self,
        dsn: str | None,
        *,
        direct_dsn: str | None,
        pool_mode: str | None,
        auto_migrate: bool | None,
    ) -> None:
        self.options: dict[str, str | None] = {
            "dsn": dsn,
            "direct_dsn": direct_dsn,
            "pool_mode": pool_mode,
        }
        self.auto_migrate = auto_migrate
        self.database: Database | None = None
        self.pool: asyncpg.Pool[Any] | None = None
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None  # the pool's

    def configure(self, **options: str | None) -> None:
        """Replace the options given (dsn, direct_dsn, pool_mode) before the pool opens."""
        if self.pool is not None:
            raise RuntimeError("configure() must come before the client connects")
        self.options.update({k: v for k, v in options.items() if v})

    async def ensure(self, *, application_name: str, max_size: int) -> asyncpg.Pool[Any]:
        """The pool, opened (and the schema checked or migrated) on the first call."""
        if self.pool is not None and self._loop is not asyncio.get_running_loop():
            self._drop_pool_of_ended_loop()
        if self.pool is not None:
            return self.pool
        async with self._lock:
            if self.pool is None:
                self.database, self.pool = await open_pool(
                    self.options["dsn"],
                    direct_dsn=self.options["direct_dsn"],
                    pool_mode=self.options["pool_mode"],
                    application_name=application_name,
                    max_size=max_size,
                    auto_migrate=self.auto_migrate,
                )
                self._loop = asyncio.get_running_loop()
            return self.pool

    def _drop_pool_of_ended_loop(self) -> None:
        """A pool belongs to the event loop it opened in. An insert-only client used by
        one asyncio.run() after another (a script, a sync web view) gets a new one;
        one still in use on a live loop elsewhere cannot be shared."""
        assert self.pool is not None and self._loop is not None
        if not self._loop.is_closed():
            raise RuntimeError(
                "this Client's connections belong to another running event loop: "
                "use one Client per event loop (or close() it there first)"
            )
        pool, self.pool = self.pool, None
        # Its loop is closed, so terminating may fail: the sockets close as it is collected.
        with contextlib.suppress(RuntimeError):
            pool.terminate()
        self._lock = asyncio.Lock()  # a lock, too, is bound to the loop it first waited in

    async def close(self, timeout: float = 10.0) -> None:
        """Close the pool; connections still in use after `timeout` are cut."""
        if self.pool is not None and self._loop is not None and self._loop.is_closed():
            self._drop_pool_of_ended_loop()  # nothing to wait for: its loop is gone
        if self.pool is not None:
            pool, self.pool = self.pool, None
            try:
                async with asyncio.timeout(timeout):
                    await pool.close()
            except TimeoutError:
                log.warning("pqw: connections still in use after %gs; closing them", timeout)
                pool.terminate()
