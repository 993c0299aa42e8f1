"""The cleaner: finished jobs past their retention, old throughput rows, and persistent
workers' runs and config versions beyond what each keeps, are deleted."""

from __future__ import annotations

from engine import sql
from engine.leadership.fence import Fence
from engine.maintenance.config import MaintenanceConfig
from engine.persistent.memory import CONFIG_VERSIONS_KEPT, RUNS_KEPT


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
    await prune_worker_memory(fence, config)
    return deleted


async def prune_worker_memory(fence: Fence, config: MaintenanceConfig) -> None:
    """Each persistent worker keeps its newest RUNS_KEPT runs and CONFIG_VERSIONS_KEPT
    config versions (its log is a ring, its state one row: they need no pruning)."""
    for statement, kept in (
        (sql.PRUNE_RUN_HISTORY, RUNS_KEPT),
        (sql.PRUNE_CONFIG_HISTORY, CONFIG_VERSIONS_KEPT),
    ):
        for _ in range(config.clean_batches_per_pass):
            async with fence() as conn:
                status = await conn.execute(statement, kept, config.batch_size)
            if int(status.split()[-1]) < config.batch_size:
                break
