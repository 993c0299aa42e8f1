"""Leader-only upkeep: scheduler, rescuer, cleaner, client registry; each a loop with a bounded pass."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg

from engine import sql
from engine.db import Conn, is_connection_error
from engine.types import JobState

log = logging.getLogger("pqw.maintenance")


@dataclass(frozen=True)
class Retention:
    """How long finished jobs are kept; None keeps them forever."""

    completed: timedelta | None = timedelta(hours=24)
    cancelled: timedelta | None = timedelta(hours=24)
    discarded: timedelta | None = timedelta(days=7)

    def items(self) -> list[tuple[JobState, timedelta]]:
        pairs = [
            (JobState.COMPLETED, self.completed),
            (JobState.CANCELLED, self.cancelled),
            (JobState.DISCARDED, self.discarded),
        ]
        return [(state, keep) for state, keep in pairs if keep is not None]


@dataclass(frozen=True)
class MaintenanceConfig:
    leader_ttl: float = 3.0
    leader_renew_interval: float = 1.0
    schedule_interval: float = 0.5
    rescue_interval: float = 0.5
    clean_interval: float = 30.0
    clients_interval: float = 5.0
    batch_size: int = 1_000
    clean_batches_per_pass: int = 20
    retention: Retention = field(default_factory=Retention)
    throughput_retention: float = 3_600.0
    client_dead_after: float = 30.0
    client_prune_after: float = 3_600.0


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


Pass = Callable[[Fence], Awaitable[Any]]


class LeaderServices:
    """Runs each maintenance pass on its interval while this client leads."""

    def __init__(
        self, is_leader: Callable[[], bool], fence: Fence, on_fence_lost: Callable[[], None]
    ):
        self._is_leader = is_leader
        self._fence = fence
        self._on_fence_lost = on_fence_lost
        self._passes: list[tuple[str, float, Pass]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._finishing = asyncio.Event()

    def add(self, name: str, interval: float, run_pass: Pass) -> None:
        self._passes.append((name, interval, run_pass))

    def start(self) -> None:
        self.stop()
        self._tasks = [
            asyncio.create_task(self._loop(name, interval, run_pass), name=f"pqw:leader:{name}")
            for name, interval, run_pass in self._passes
        ]

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []

    async def wait_stopped(self, grace: float = 5.0) -> None:
        """Stop after the passes under way finish: a pass cancelled inside its fenced
        transaction would hold the fence's lock (and so delay our own resignation)."""
        tasks, self._tasks = self._tasks, []
        self._finishing.set()
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._finishing.clear()

    async def _loop(self, name: str, interval: float, run_pass: Pass) -> None:
        failures = 0
        while not self._finishing.is_set():
            # The local check saves a round trip; the fence inside the pass decides.
            if self._is_leader():
                try:
                    await run_pass(self._fence)
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except NotLeader:
                    self._on_fence_lost()
                except Exception as exc:
                    failures += 1
                    if failures == 1 or not is_connection_error(exc):
                        log.warning("pqw: maintenance %s failed (%s); retrying", name, exc)
            pause = interval if not failures else min(10.0, interval * 2**failures)
            try:
                async with asyncio.timeout(pause):
                    await self._finishing.wait()
            except TimeoutError:
                pass


class Maintenance:
    """The passes themselves: each bounded, fenced, safe beside running workers."""

    def __init__(self, config: MaintenanceConfig, default_heartbeat_timeout: float):
        self.config = config
        self.default_heartbeat_timeout = default_heartbeat_timeout

    async def schedule(self, fence: Fence) -> int:
        """Make due scheduled/retryable jobs available; how many were."""
        async with fence() as conn:
            try:
                async with conn.transaction():  # a savepoint: a unique race spoils only this
                    row = await conn.fetchrow(sql.SCHEDULE_DUE_JOBS, self.config.batch_size)
            except asyncpg.UniqueViolationError:
                # A unique insert raced this pass; the next pass sees it and discards instead.
                log.info("pqw: scheduler met a concurrent unique insert; retrying next pass")
                return 0
        assert row is not None
        return int(row["made"])

    async def rescue(self, fence: Fence) -> list[asyncpg.Record]:
        async with fence() as conn:
            rows = await conn.fetch(
                sql.RESCUE_STALE_JOBS, self.config.batch_size, self.default_heartbeat_timeout
            )
        for r in rows:
            log.warning(
                "pqw: rescued job %d (%s) from client %s: now %s",
                r["id"],
                r["kind"],
                r["client_id"],
                r["state"],
            )
        return list(rows)

    async def clean(self, fence: Fence) -> int:
        """Delete old finished jobs, one short transaction per batch."""
        deleted = 0
        for state, keep in self.config.retention.items():
            for _ in range(self.config.clean_batches_per_pass):
                async with fence() as conn:
                    status = await conn.execute(
                        sql.DELETE_FINISHED_JOBS,
                        state.value,
                        keep.total_seconds(),
                        self.config.batch_size,
                    )
                count = int(status.split()[-1])
                deleted += count
                if count < self.config.batch_size:
                    break
        async with fence() as conn:
            await conn.execute(sql.DELETE_OLD_THROUGHPUT, self.config.throughput_retention)
        return deleted

    async def tend_clients(self, fence: Fence) -> None:
        async with fence() as conn:
            dead = await conn.fetch(sql.MARK_DEAD_CLIENTS, self.config.client_dead_after)
            await conn.execute(sql.PRUNE_CLIENTS, self.config.client_prune_after)
        for r in dead:
            log.warning("pqw: client %s stopped heartbeating; marked dead", r["id"])
