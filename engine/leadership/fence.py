"""The fence: transactions that commit only while this client's leader lease holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from engine import sql
from engine.db.pool import Conn


class NotLeader(Exception):
    """The fence did not hold: this client is not (or no longer) the leader."""


class Fence:
    """Opens fenced transactions: each holds only while this client's lease does."""

    def __init__(self, pool: asyncpg.Pool[Any], client_id: str) -> None:
        self.pool = pool
        self.client_id = client_id

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Conn]:
        async with self.pool.acquire() as conn, conn.transaction():
            if await conn.fetchval(sql.FENCE_LEADERSHIP, self.client_id) is None:
                raise NotLeader(self.client_id)
            yield conn
