"""The persistent supervisor: every enabled persistent worker that is due has its live run."""

from __future__ import annotations

from engine import sql
from engine.jobs.unique import NON_FINAL_MASK
from engine.leadership.fence import Fence


async def supervise_persistent(fence: Fence) -> None:
    """Insert the run of every enabled, due worker that has none (a no-op for the rest)."""
    async with fence() as conn:
        await conn.fetch(sql.INSERT_DUE_RUNS, None, NON_FINAL_MASK)
