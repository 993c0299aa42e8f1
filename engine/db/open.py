"""Opening a client's pool: find the database, connect, and check (or bring up) its schema."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from engine.db import migrate
from engine.db.dsn import configured_dsn, resolve_dsn
from engine.db.pool import create_pool


async def open_pool(
    dsn_option: str | None,
    *,
    application_name: str,
    max_size: int,
    auto_migrate: bool | None,
) -> tuple[str, asyncpg.Pool[Any]]:
    """The DSN used and a pool on it whose schema is current.

    auto_migrate None migrates the embedded server (nobody else's schema is
    ours to change) and only checks a configured database (SchemaError when
    behind).
    """
    embedded = configured_dsn(dsn_option) is None
    # Starting the embedded server blocks for a moment: not on the event loop.
    dsn = await asyncio.to_thread(resolve_dsn, dsn_option)
    pool = await create_pool(
        dsn, min_size=1, max_size=max_size, server_settings={"application_name": application_name}
    )
    try:
        async with pool.acquire() as conn:
            if embedded if auto_migrate is None else auto_migrate:
                await migrate.migrate_up(conn)
            else:
                await migrate.check_schema(conn)
    except BaseException:
        await pool.close()
        raise
    return dsn, pool
