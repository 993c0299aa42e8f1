"""The leader's sessions: a connection of the elector's own, a small pool for the fenced
passes, and the server-side bounds of every transaction a leader holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from engine import sql
from engine.db.pool import create_pool

# transaction_timeout exists from PostgreSQL 17 on.
TRANSACTION_TIMEOUT_VERSION = 170000


@dataclass(frozen=True)
class TransactionBounds:
    """How this server bounds a fenced transaction: the statement that opens one (it sets
    the timeouts and checks the lease) and the timeouts it sets, in milliseconds."""

    begin: str
    settings: tuple[str, ...]
    transaction_timeout: bool


def transaction_bounds(
    server_version_num: int, ttl: float, use_transaction_timeout: bool | None = None
) -> TransactionBounds:
    """Bounds for a lease of `ttl` seconds: transaction_timeout where the server has it
    (unless told not to), else statement_timeout, lock_timeout and
    idle_in_transaction_session_timeout.

    A pass is over well within a lease; one that is not, or a session that froze
    inside one, is ended by the server after one lease, so whatever it had
    locked is free again about when the lease it held has expired.
    """
    available = server_version_num >= TRANSACTION_TIMEOUT_VERSION
    if use_transaction_timeout and not available:
        raise ValueError(
            f"transaction_timeout needs PostgreSQL 17 or later (server_version_num "
            f"{server_version_num})"
        )
    bound = str(max(1, int(ttl * 1000)))
    if available and use_transaction_timeout is not False:
        return TransactionBounds(sql.BEGIN_FENCED, (bound,), transaction_timeout=True)
    lock = str(max(1, int(ttl * 500)))
    return TransactionBounds(sql.BEGIN_FENCED_BEFORE_17, (bound, lock), transaction_timeout=False)


@dataclass(frozen=True)
class LeaderSessions:
    """The elector's pool (one connection: it never waits for a pass) and the passes' pool."""

    elector: asyncpg.Pool[Any]
    passes: asyncpg.Pool[Any]
    bounds: TransactionBounds

    async def close(self) -> None:
        await self.passes.close()
        await self.elector.close()


async def open_leader_sessions(
    dsn: str,
    client_id: str,
    ttl: float,
    *,
    use_transaction_timeout: bool | None = None,
    statements: Sequence[str] = (),
) -> LeaderSessions:
    """Sessions of their own, so renewals never queue behind job traffic or passes.

    The server version is read once, to choose the bounds. Without
    transaction_timeout, each pass session prepares `statements` (the passes'
    own) and the fence's statements as it connects.
    """
    elector = await create_pool(
        dsn,
        min_size=1,
        max_size=1,
        server_settings={"application_name": f"pqw {client_id} elector"},
    )
    try:
        version = int(await elector.fetchval(sql.SERVER_VERSION_NUM))
        bounds = transaction_bounds(version, ttl, use_transaction_timeout)
        prepare = (
            () if bounds.transaction_timeout else (bounds.begin, sql.FENCE_LEADERSHIP, *statements)
        )
        passes = await create_pool(
            dsn,
            min_size=1,
            max_size=2,
            server_settings={"application_name": f"pqw {client_id} leader"},
            prepare=prepare,
        )
    except BaseException:
        await elector.close()
        raise
    return LeaderSessions(elector, passes, bounds)
