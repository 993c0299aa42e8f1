"""The database an operator points a tool at: which one, is it there, bring its schema up."""

from __future__ import annotations

from engine.db.dsn import resolve_database
from engine.db.open import migrate_database
from engine.db.pool import connect


async def check_reachable(
    dsn: str | None = None, direct_dsn: str | None = None, pool_mode: str | None = None
) -> None:
    """Return once both URLs connect; DatabaseUnavailable (one line, no password) when not."""
    database = resolve_database(dsn, direct_dsn, pool_mode)
    for url in dict.fromkeys([database.url, database.direct_url]):
        if url is not None:
            conn = await connect(url)
            await conn.close()


async def migrate_to_latest(
    dsn: str | None = None, direct_dsn: str | None = None, pool_mode: str | None = None
) -> None:
    """Apply every pending migration (under the migration lock; on the direct URL if any)."""
    await migrate_database(resolve_database(dsn, direct_dsn, pool_mode))
