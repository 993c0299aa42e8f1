"""The rescuer: running jobs whose runner stopped heartbeating are taken back."""

from __future__ import annotations

import logging

import asyncpg

from engine import sql
from engine.leadership.fence import Fence

log = logging.getLogger("pqw.maintenance")


async def rescue_stale_jobs(
    fence: Fence, batch_size: int, default_heartbeat_timeout: float
) -> list[asyncpg.Record]:
    """Take back up to batch_size stale running jobs (retryable, discarded or cancelled)."""
    async with fence() as conn:
        rows = await conn.fetch(sql.RESCUE_STALE_JOBS, batch_size, default_heartbeat_timeout)
    for r in rows:
        log.warning(
            "pqw: rescued job %d (%s) from client %s: now %s",
            r["id"],
            r["kind"],
            r["client_id"],
            r["state"],
        )
    if rows:
        for client_id in rows[0]["marked_dead"]:
            log.warning("pqw: client %s stopped heartbeating; marked dead", client_id)
    return list(rows)
