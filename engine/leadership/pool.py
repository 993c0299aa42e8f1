"""The leader pool: the sessions leadership and every leader-only pass use."""

from __future__ import annotations

from typing import Any

import asyncpg

from engine.db.pool import create_pool


async def open_leader_pool(dsn: str, client_id: str, ttl: float) -> asyncpg.Pool[Any]:
    """A pool of its own, so renewals never queue behind job traffic.

    A session that stalls idle inside a fenced transaction (a frozen or
    partitioned leader holding the fence's share lock) is ended by the server
    after one lease. That bounds only an *idle* stall: a session frozen in the
    middle of a statement is not idle, and can hold the lock (and so delay a
    takeover) for as long as the freeze lasts.
    """
    return await create_pool(
        dsn,
        min_size=1,
        max_size=2,
        server_settings={
            "application_name": f"pqw {client_id} leader",
            "idle_in_transaction_session_timeout": str(int(ttl * 1000)),
        },
    )
