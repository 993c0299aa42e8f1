"""Drain on a table already holding many finished jobs (1,000,000 by default), next to the
drain on an empty one: bloat and index health. The raw loop drains the same full table."""

from __future__ import annotations

import statistics

from engine.admin import Admin
from engine.cli.bench.figure import Figure, reset, side_by_side
from engine.cli.bench.throughput import DRAIN_CONCURRENCY, QUEUE, drain_pairs
from engine.client import Client

# Finished jobs of the bench queue, as a cleaner that keeps a day of history leaves them.
FILL_FINISHED = """
INSERT INTO pqw_job (kind, queue, state, attempt, max_attempts, args, attempted_at, finalized_at)
SELECT 'bench.noop', $2, 'completed', 1, 25, jsonb_build_object('n', n),
       now() - interval '1 hour', now() - (n % 3600) * interval '1 second'
FROM generate_series(1, $1::bigint) AS n
"""


async def bench_bloat(
    dsn: str, feeder: Client, admin: Admin, finished: int, jobs: int, runs: int, empty: Figure
) -> list[Figure]:
    """pqw and raw drains with `finished` completed jobs in the table; `empty` is pqw's
    drain of the same size on an empty table, from this bench run."""
    await reset(feeder)
    await feeder.pool.execute(FILL_FINISHED, finished, QUEUE)
    raw_samples, samples = await drain_pairs(dsn, feeder, admin, jobs, runs, truncate=False)
    shape = {"concurrency": DRAIN_CONCURRENCY, "jobs": jobs, "finished_rows": finished}
    base = Figure("raw drain (finished jobs present)", "jobs/s", raw_samples, dict(shape))
    figure = side_by_side("drain (finished jobs present)", "jobs/s", samples, base, shape)
    figure.extra["of_empty"] = round(statistics.median(samples) / empty.median, 3)
    await reset(feeder)
    return [base, figure]
