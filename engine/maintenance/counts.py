"""The job counter: the deltas every job change appends are folded into exact counts."""

from __future__ import annotations

from engine import sql
from engine.leadership.fence import Fence

# Deltas folded per transaction; a pass takes a few when a backlog built up
# (no leader for a while), so one pass stays short.
FOLD_BATCH = 50_000
FOLD_BATCHES_PER_PASS = 10
# How long per-minute outcomes (a queue's failure rate) are kept.
OUTCOME_RETENTION = 3_600.0


async def fold_job_counts(fence: Fence) -> int:
    """Fold the committed deltas into pqw_job_count; how many were folded."""
    folded = 0
    for _ in range(FOLD_BATCHES_PER_PASS):
        async with fence() as conn:
            moved: int = await conn.fetchval(sql.FOLD_JOB_COUNTS, FOLD_BATCH, OUTCOME_RETENTION)
        folded += moved
        if moved < FOLD_BATCH:
            break
    return folded
