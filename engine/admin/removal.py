"""Removing what no code defines any more: a persistent worker renamed or deleted in code.

A worker's row outlives its definition on purpose (the operator's config and
history stay across deploys), so one renamed in code shows "no-client" until
someone removes it. Removal is refused while anything still keeps the worker:

- a live client defines it: that client runs it, and writes the row back at
  its next start anyway. Remove it from the code and roll that client first.
- its run is running: on a live client that defines it (above), or on a dead
  one, whose run the rescuer takes back within the worker's heartbeat timeout.

Each refusal ends by itself or by a deploy, so there is no `force`: forcing
could only leave a run with no row, which nothing would show or stop.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from engine import sql
from engine.admin.guard import guarded
from engine.errors import InvalidJobOption, NotFound
from engine.maintenance.config import CLIENT_DEAD_AFTER


@guarded
class WorkerRemoval:
    """Admin's removal of persistent workers (Admin inherits it)."""

    pool: asyncpg.Pool[Any]
    dsn: str
    actor: str

    async def delete_worker(self, name: str) -> None:
        """Remove a persistent worker no live client defines and none runs: its row, and
        its run if one waits (cancelled). NotFound, or InvalidJobOption saying what
        keeps it."""
        async with self.pool.acquire() as conn, conn.transaction():
            if await conn.fetchval(sql.LOCK_WORKER, name) is None:
                raise NotFound(f"no persistent worker named {name!r}")
            keepers = await conn.fetchrow(sql.WORKER_KEEPERS, name, CLIENT_DEAD_AFTER)
            assert keepers is not None  # one row, always
            definers: list[str] = list(keepers["definers"])
            if definers:
                raise InvalidJobOption(
                    f"persistent worker {name!r} is defined by live client(s) "
                    f"{', '.join(definers)}, which run it and would write it back: remove it "
                    f"from their code and restart them first (or stop it: "
                    f"`pqw persistent stop {name}`)"
                )
            if keepers["running_job"] is not None:
                raise InvalidJobOption(
                    f"persistent worker {name!r} has a run still running (job "
                    f"{keepers['running_job']}); its client is gone, so the rescuer takes "
                    f"it back within the worker's heartbeat timeout: try again then"
                )
            await conn.execute(sql.CANCEL_WAITING_RUN, name, self.actor)
            await conn.execute(sql.DELETE_WORKER, name)
