"""The cleaner: finished jobs past their retention, and old throughput rows, are deleted."""

from __future__ import annotations

from engine import sql
from engine.leadership.fence import Fence
from engine.maintenance.config import MaintenanceConfig


async def clean(fence: Fence, config: MaintenanceConfig) -> int:
    """Delete old finished jobs, one short transaction per batch; how many."""
    deleted = 0
    for state, keep in config.retention.items():
        for _ in range(config.clean_batches_per_pass):
            async with fence() as conn:
                status = await conn.execute(
                    sql.DELETE_FINISHED_JOBS, state.value, keep.total_seconds(), config.batch_size
                )
            count = int(status.split()[-1])
            deleted += count
            if count < config.batch_size:
                break
    async with fence() as conn:
        await conn.execute(sql.DELETE_OLD_THROUGHPUT, config.throughput_retention)
    return deleted
