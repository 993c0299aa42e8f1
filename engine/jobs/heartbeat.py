"""The client's heartbeat: its own row (naming the jobs it holds) and the lease of each job
it runs; a job whose lease is gone, or whose cancel was asked for, is stopped here."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from engine import sql
from engine.db.outage import is_connection_error
from engine.jobs.executor import RunningJob, StopReason

log = logging.getLogger("pqw.client")


class JobHeartbeat:
    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        client_id: str,
        running: dict[int, RunningJob],
        *,
        own_lease: Callable[[str], bool],
        outstanding: Callable[[], dict[int, int]],
        register: Callable[[], Awaitable[None]],
        queues: Callable[[], str] = lambda: "{}",
        limits_seen: Callable[[dict[str, int]], None] = lambda limits: None,
    ) -> None:
        self._pool = pool
        self._client_id = client_id
        self._running = running
        self._own_lease = own_lease
        self._outstanding = outstanding
        self._register = register
        self._queues = queues
        self._limits_seen = limits_seen

    async def run(self, interval: float) -> None:
        """Heartbeat until cancelled; no error ends this loop (a dead loop would get
        every running job rescued from under a healthy client)."""
        failures = 0
        while True:
            await asyncio.sleep(interval)
            try:
                await self.beat()
                if failures:
                    log.info("pqw: heartbeats restored")
                failures = 0
            except Exception as exc:
                failures += 1
                if failures == 1:
                    if is_connection_error(exc):
                        log.warning("pqw: heartbeat failed (%s); retrying", exc)
                    else:
                        log.exception("pqw: heartbeat failed; retrying")

    async def beat(self) -> None:
        """One heartbeat of the client and of every job it holds."""
        held = {
            job_id: r.job.attempt
            for job_id, r in self._running.items()
            if not self._own_lease(r.job.kind)
        }
        held.update(self._outstanding())
        # The client's heartbeat names the jobs it holds: the rescuer leaves them
        # alone even while their own heartbeats are held up by a lock on their row.
        beat = await self._pool.fetchrow(
            sql.HEARTBEAT_CLIENT, self._client_id, list(held), self._queues()
        )
        if beat is None:
            # Pruned while we could not reach the database: register again.
            await self._register()
            beat = await self._pool.fetchrow(
                sql.HEARTBEAT_CLIENT, self._client_id, list(held), self._queues()
            )
        if beat is not None:
            self._limits_seen(json.loads(beat["limits"]))
        if not held:
            return
        rows = await self._pool.fetch(sql.HEARTBEAT_JOBS, list(held), list(held.values()))
        # A busy row (locked by someone else right now) is neither alive nor lost:
        # it is heartbeated again next time.
        busy = {r["id"] for r in rows if r["busy"]}
        alive = {r["id"]: r["cancel_requested"] for r in rows if not r["busy"]}
        for job_id, running in list(self._running.items()):
            if job_id not in held or job_id in busy or self._own_lease(running.job.kind):
                continue
            if job_id not in alive:
                log.warning("pqw: lost the lease on job %d; cancelling it here", job_id)
                running.stop(StopReason.LEASE_LOST)
            elif alive[job_id]:
                running.stop(StopReason.CANCEL_REQUESTED)
