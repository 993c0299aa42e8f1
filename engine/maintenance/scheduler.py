"""The scheduler: scheduled and retryable jobs whose time has come become available."""

from __future__ import annotations

import logging

import asyncpg

from engine import sql
from engine.leadership.fence import Fence

log = logging.getLogger("pqw.maintenance")


async def schedule_due_jobs(fence: Fence, batch_size: int) -> int:
    """Make up to batch_size due jobs available; how many were."""
    async with fence() as conn:
        try:
            async with conn.transaction():  # a savepoint: a unique race spoils only this
                row = await conn.fetchrow(sql.SCHEDULE_DUE_JOBS, batch_size)
        except asyncpg.UniqueViolationError:
            # A unique insert raced this pass; the next pass sees it and discards instead.
            log.info("pqw: scheduler met a concurrent unique insert; retrying next pass")
            return 0
    assert row is not None
    return int(row["made"])
