"""Leadership: a lease in pqw_leader, renewed often, given up on stop, lost before it can expire."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from engine import sql

log = logging.getLogger("pqw.leader")


class Elector:
    """Keeps trying to hold the leadership lease; says when it is won and lost.

    The lease is `ttl` seconds from the database's clock at each renewal. Locally
    we count from the moment the renewal was *sent* (before the database took
    its now()), so our deadline always falls before the lease's real expiry: a
    leader that cannot renew stops acting before anyone else may take over.
    """

    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        client_id: str,
        *,
        ttl: float = 3.0,
        renew_interval: float = 1.0,
        on_elected: Callable[[], None],
        on_lost: Callable[[], None],
    ) -> None:
        if renew_interval * 2 > ttl:
            raise ValueError("the leader lease must outlast at least two renewals")
        self._pool = pool
        self.client_id = client_id
        self.ttl = ttl
        self.renew_interval = renew_interval
        self._on_elected = on_elected
        self._on_lost = on_lost
        self._deadline = 0.0
        self._leading = False
        self._wake = asyncio.Event()

    @property
    def is_leader(self) -> bool:
        """True only while the lease is certainly ours (checked against the local deadline)."""
        if self._leading and asyncio.get_running_loop().time() >= self._deadline:
            self._lose("lease not renewed in time")
        return self._leading

    def fence_lost(self) -> None:
        """A fenced pass found the lease gone: stop acting now, not at the deadline."""
        self._lose("the lease was taken or expired")

    def poke(self) -> None:
        """Try now (the leader resigned)."""
        self._wake.set()

    def _lose(self, why: str) -> None:
        if self._leading:
            self._leading = False
            log.info("pqw: %s is no longer the leader (%s)", self.client_id, why)
            self._on_lost()

    async def _hold_or_take(self) -> bool:
        """Renew the lease if it is ours, else take it if it has expired; True if ours now."""
        async with self._pool.acquire() as conn:
            if await conn.fetchval(sql.RENEW_LEADERSHIP, self.client_id, self.ttl) is not None:
                return True
            lease = await conn.fetchrow(sql.READ_LEADERSHIP)
            if lease is not None and lease["valid"]:
                return False  # someone else holds it: no lock taken, nothing waited for
            # Expired (or never taken): take it in one statement. Its lock waits for
            # a former leader's fenced commit under way, but never for longer than
            # a fraction of the lease: if that commit is stuck, try again next round.
            lock_wait = str(max(1, int(self.ttl * 250)))
            statement = str(max(1, int(self.ttl * 500)))
            try:
                async with conn.transaction():
                    await conn.fetchrow(sql.BOUND_TAKEOVER, lock_wait, statement)
                    holder = await conn.fetchval(sql.TAKE_LEADERSHIP, self.client_id, self.ttl)
            except (asyncpg.LockNotAvailableError, asyncpg.QueryCanceledError) as exc:
                log.debug("pqw: taking over the leader lease waited too long (%s)", exc)
                return False
            return bool(holder == self.client_id)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                sent = loop.time()
                try:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for drops a cancel
                    # that lands as its call finishes, and stop() would wait forever.
                    async with asyncio.timeout(self.ttl / 2):
                        ours = await self._hold_or_take()
                except Exception as exc:
                    if self._leading:
                        log.warning("pqw: renewing the leader lease failed (%s)", exc)
                        # Keep acting until the local deadline; is_leader checks it.
                        _ = self.is_leader
                    await self._pause(self.renew_interval)
                    continue
                if ours:
                    self._deadline = sent + self.ttl
                    if not self._leading:
                        self._leading = True
                        log.info("pqw: %s is now the leader", self.client_id)
                        self._on_elected()
                else:
                    self._lose("another client holds the lease")
                await self._pause(self.renew_interval)
        finally:
            self._lose("stopping")

    async def _pause(self, seconds: float) -> None:
        self._wake.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def resign(self) -> None:
        """Give the lease up so another client takes over at once."""
        self._lose("resigned")
        # Delete our row even if the local deadline already passed: the database
        # may still name us, and deleting (or finding nothing) is always safe.
        try:
            async with asyncio.timeout(self.ttl):
                async with self._pool.acquire() as conn, conn.transaction():
                    if await conn.fetchval(sql.RESIGN_LEADERSHIP, self.client_id):
                        await conn.execute(
                            sql.NOTIFY, sql.LEADER_CHANNEL, f"resigned:{self.client_id}"
                        )
        except Exception as exc:
            log.warning("pqw: could not resign leadership (%s); it expires by itself", exc)
