"""The dashboard's reads on a big queue table: a refresh, the counts, pages of jobs, one job.

The table (10M jobs over 20 queues by default) is built once in a database of
its own and kept for the next run: loaded and ANALYZEd but never VACUUMed
(autovacuum is off on it), as a busy queue table is before autovacuum catches
up, so index-only scans cannot skip the heap.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from engine import sql
from engine.admin import Admin, InvalidJobOption, JobQuery, JobState
from engine.cli.bench.figure import Figure, database_uri
from engine.db import migrate
from engine.db.pool import connect
from engine.sql.job_search import SEARCH_TIMEOUT_MS

FILL_STEP = 1_000_000

# Jobs spread over queues, kinds and states the way a busy system looks: mostly
# finished work, a backlog, some retries and failures; args with a customer.
FILL = """
INSERT INTO pqw_job (kind, queue, state, max_attempts, attempt, args, finalized_at,
                     scheduled_at, errors)
SELECT 'bench.kind' || (n % 10),
       'q' || lpad((n % $3)::text, 2, '0'),
       s.state,
       25,
       CASE WHEN s.state = 'available' THEN 0 ELSE 1 END,
       jsonb_build_object('customer', n % 10000, 'n', n),
       CASE WHEN s.state IN ('completed', 'cancelled', 'discarded')
            THEN now() - (n % 3600) * interval '1 second' END,
       CASE WHEN s.state IN ('scheduled', 'retryable') THEN now() + interval '1 hour' ELSE now() END,
       CASE WHEN s.state IN ('retryable', 'discarded')
            THEN jsonb_build_array(jsonb_build_object('attempt', 1, 'error',
                                   'TimeoutError: upstream ' || (n % 7))) ELSE '[]' END
FROM generate_series($1::bigint, $2::bigint) AS n
CROSS JOIN LATERAL (SELECT (CASE
    WHEN n % 100 < 70 THEN 'completed'
    WHEN n % 100 < 85 THEN 'available'
    WHEN n % 100 < 90 THEN 'scheduled'
    WHEN n % 100 < 94 THEN 'retryable'
    WHEN n % 100 < 97 THEN 'discarded'
    ELSE 'cancelled' END)::pqw_job_state AS state) s
"""


def _say(text: str) -> None:
    print(f"pqw bench: {text}", file=sys.stderr, flush=True)


async def big_table(dsn: str, rows: int, queues: int) -> str:
    """The kept database holding `rows` jobs over `queues` queues (built on first use)."""
    name = f"pqw_bench_dashboard_{rows}_{queues}"  # digits after a fixed prefix: safe
    uri = database_uri(dsn, name)
    conn = await connect(dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    finally:
        await conn.close()
    if exists:
        db = await connect(uri)
        try:
            if await db.fetchval("SELECT to_regclass('pqw_bench_filled') IS NOT NULL"):
                # A filled table from an older schema: the newer migrations run on it
                # (building their indexes takes a while, refilling takes longer).
                if await db.fetchval("SELECT max(version) FROM pqw_migration") != (
                    migrate.latest_version()
                ):
                    _say("dashboard table: migrating the kept table")
                    await migrate.migrate_up(db)
                    await db.execute("ANALYZE pqw_job")
                return uri
        finally:
            await db.close()
    conn = await connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    db = await connect(uri)
    try:
        await migrate.migrate_up(db)
        await db.execute("ALTER TABLE pqw_job SET (autovacuum_enabled = false)")
        started = time.perf_counter()
        for first in range(1, rows + 1, FILL_STEP):
            last = min(rows, first + FILL_STEP - 1)
            await db.execute(FILL, first, last, queues)
            _say(
                f"dashboard table: {last:,} of {rows:,} jobs ({time.perf_counter() - started:.0f}s)"
            )
        while await db.fetchval(sql.FOLD_JOB_COUNTS, 50_000, 3600.0):
            pass
        await db.execute("ANALYZE pqw_job")
        await db.execute("CREATE TABLE pqw_bench_filled (rows bigint)")
    finally:
        await db.close()
    return uri


async def _timed(samples: int, read: Callable[[], Awaitable[Any]]) -> list[float]:
    await read()  # warm up: connections, prepared statements
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        await read()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def bench_dashboard(dsn: str, rows: int, queues: int, samples: int = 15) -> list[Figure]:
    """Each dashboard read on the big table, in milliseconds."""
    uri = await big_table(dsn, rows, queues)
    shape = {"rows": rows, "queues": queues, "vacuumed": False}
    admin = await Admin.connect(uri, application_name="pqw bench")
    try:
        some_job = await admin.search_jobs(JobQuery(queue="q07"), limit=1)
        job_id = some_job[0].id if some_job else 1
        reads: dict[str, Callable[[], Awaitable[Any]]] = {
            "dashboard refresh (overview)": admin.overview,
            "dashboard queue counts": admin.queue_state_counts,
            "dashboard jobs page (every queue)": lambda: admin.search_jobs(JobQuery()),
            "dashboard jobs page (queue)": lambda: admin.search_jobs(JobQuery(queue="q07")),
            "dashboard jobs page (queue, state)": lambda: admin.search_jobs(
                JobQuery(queue="q07", states=(JobState.DISCARDED,))
            ),
            "dashboard jobs page (kind prefix)": lambda: admin.search_jobs(
                JobQuery(kind="bench.kind3*")
            ),
            "dashboard jobs page (args)": lambda: admin.search_jobs(
                JobQuery(queue="q07", args={"customer": 7})
            ),
            "dashboard jobs page (by finalized)": lambda: admin.search_jobs(
                JobQuery(states=(JobState.DISCARDED,), order="finalized")
            ),
            "dashboard a job": lambda: admin.get_job(job_id),
            "dashboard failures by cause": admin.failure_groups,
        }
        figures = []
        for name, read in reads.items():
            try:
                times = await _timed(samples, read)
            except InvalidJobOption as exc:  # a search stopped by its statement timeout
                figures.append(
                    Figure(name, "ms", [SEARCH_TIMEOUT_MS], {**shape, "error": str(exc)})
                )
                continue
            figures.append(Figure(name, "ms", times, dict(shape)))
        overview = figures[0]
        overview.extra["p95_ms"] = round(statistics.quantiles(overview.samples, n=20)[18], 1)
    finally:
        await admin.close()
    return figures
