"""The database an operator points a tool at: which one, is it there, bring its schema up."""

from __future__ import annotations

from engine.db import migrate
from engine.db.pool import connect


async def check_reachable(dsn: str) -> None:
    """Return once a connection succeeds; DatabaseUnavailable (one line) when it cannot."""
    conn = await connect(dsn)
    await conn.close()


async def migrate_to_latest(dsn: str) -> None:
    """Apply every pending migration (under the migration lock)."""
    conn = await connect(dsn)
    try:
        await migrate.migrate_up(conn)
    finally:
        await conn.close()
