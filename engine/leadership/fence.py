"""The fence: transactions that commit only while this client's leader lease holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from engine import sql
from engine.db.pool import Conn
from engine.leadership.pool import TransactionBounds


class NotLeader(Exception):
    """The fence did not hold: this client is not (or no longer) the leader."""


class Fence:
    """Opens fenced transactions: each commits only if this client's lease still holds."""

    def __init__(self, pool: asyncpg.Pool[Any], client_id: str, bounds: TransactionBounds):
        self.pool = pool
        self.client_id = client_id
        self.bounds = bounds

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Conn]:
        """A transaction bounded by the server (see sql.BEGIN_FENCED), which commits only
        if the lease is still this client's when the pass is done; NotLeader otherwise.

        The lease is locked only at the end, just before the commit (sql.FENCE_LEADERSHIP):
        a session that freezes mid-pass holds no lock on the lease, so it never
        holds up the election of another client, and what it wrote rolls back.
        """
        async with self.pool.acquire() as conn, conn.transaction():
            begun = await conn.fetchrow(self.bounds.begin, self.client_id, *self.bounds.settings)
            if begun is None or not begun["leading"]:
                raise NotLeader(self.client_id)
            yield conn
            if await conn.fetchval(sql.FENCE_LEADERSHIP, self.client_id) is None:
                raise NotLeader(self.client_id)
