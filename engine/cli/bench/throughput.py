"""Throughput and latency figures, each run next to the raw baseline (engine/cli/bench/raw.py):
bulk enqueue, unique inserts, drain, insert-to-start latency.

Each run measures the raw loop and pqw one after the other (which goes first
alternates), and every ratio is the median of the per-run ratios: both sides
of one ratio ran under the same load.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable

from engine.admin import Admin
from engine.cli.bench import raw
from engine.cli.bench.figure import Figure, batches, reset, side_by_side
from engine.client import Client
from engine.types import InsertOpts, Job, JobSpec, UniqueOpts

QUEUE = raw.QUEUE
BATCH = 1000
DRAIN_CONCURRENCY = 16
LATENCY_CONCURRENCY = 4
# The load: one insert every 20 ms on an idle worker.
LATENCY_INTERVAL = 0.02


async def pairs(
    runs: int, first: Callable[[], Awaitable[float]], second: Callable[[], Awaitable[float]]
) -> tuple[list[float], list[float]]:
    """`runs` samples of each, the order alternating from run to run."""
    a: list[float] = []
    b: list[float] = []
    for n in range(runs):
        if n % 2 == 0:
            a.append(await first())
            b.append(await second())
        else:
            b.append(await second())
            a.append(await first())
    return a, b


def noop_batches(jobs: int) -> list[list[tuple[str, str]]]:
    return [
        [("bench.noop", json.dumps({"n": i})) for i in range(start, min(jobs, start + BATCH))]
        for start in range(0, jobs, BATCH)
    ]


async def fill(feeder: Client, jobs: int, *, truncate: bool = True) -> None:
    """`jobs` waiting no-op jobs in the bench queue (after emptying the table)."""
    if truncate:
        await reset(feeder)
    opts = InsertOpts(queue=QUEUE)  # one object: insert_many validates it once per batch
    for batch in batches(jobs, BATCH, lambda i: ("bench.noop", {"n": i}, opts)):
        await feeder.insert_many(batch)
    await feeder.pool.execute("VACUUM ANALYZE pqw_job")


async def bench_enqueue(dsn: str, feeder: Client, jobs: int, runs: int) -> list[Figure]:
    """Bulk enqueue: insert_many in batches of 1,000 (COPY), one inserter; raw: plain COPY."""
    work = noop_batches(jobs)
    opts = InsertOpts(queue=QUEUE)
    specs = [[JobSpec(kind, json.loads(args), opts) for kind, args in batch] for batch in work]

    async def ours() -> float:
        await reset(feeder)
        started = time.perf_counter()
        for batch in specs:
            await feeder.insert_many(batch)
        return jobs / (time.perf_counter() - started)

    async def baseline() -> float:
        await reset(feeder)
        return await raw.raw_copy(dsn, work)

    raw_samples, samples = await pairs(runs, baseline, ours)
    shape = {"batch": BATCH, "inserters": 1}
    base = Figure("raw bulk COPY", "jobs/s", raw_samples, dict(shape))
    return [base, side_by_side("bulk enqueue", "jobs/s", samples, base, shape)]


def unique_work(jobs: int) -> list[list[tuple[str, str]]]:
    """Batches of 1,000: 500 keys new in this batch, 500 repeated from the one before."""
    work = []
    for b in range(max(1, jobs // BATCH)):
        keys = [b * 500 + i for i in range(500)] + [max(0, b - 1) * 500 + i for i in range(500)]
        work.append([("bench.unique", json.dumps({"key": k})) for k in keys])
    return work


async def bench_unique(dsn: str, feeder: Client, jobs: int, runs: int) -> list[Figure]:
    """Unique inserts in batches of 1,000, half of each batch duplicates of the batch before."""
    work = unique_work(jobs)
    opts = InsertOpts(unique=UniqueOpts(by_args=True), queue=QUEUE)
    specs = [[JobSpec(kind, json.loads(args), opts) for kind, args in batch] for batch in work]
    total = len(work) * BATCH
    duplicates: list[int] = []

    async def ours() -> float:
        await reset(feeder)
        seen = 0
        started = time.perf_counter()
        for batch in specs:
            results = await feeder.insert_many(batch)
            seen += sum(r.duplicate for r in results)
        duplicates.append(seen)
        return total / (time.perf_counter() - started)

    async def baseline() -> float:
        await reset(feeder)
        rate, _ = await raw.raw_unique(dsn, work)
        return rate

    raw_samples, samples = await pairs(runs, baseline, ours)
    shape = {"batch": BATCH}
    base = Figure("raw unique insert (ON CONFLICT)", "jobs/s", raw_samples, dict(shape))
    figure = side_by_side("unique insert (half duplicates)", "jobs/s", samples, base, shape)
    figure.extra["duplicates"] = duplicates[-1]
    return [base, figure]


async def pqw_drain(dsn: str, admin: Admin, jobs: int, concurrency: int) -> float:
    """Jobs/s of one pqw client draining the `jobs` waiting in the bench queue.

    The queue is paused while the client starts (pool, registration, LISTEN,
    leadership) and timed from its resume, as the raw loop is timed from
    connections that are already open.
    """
    client = Client(dsn, queues={QUEUE: concurrency}, auto_migrate=False)

    @client.job("bench.noop", queue=QUEUE)
    async def noop(job: Job) -> None:
        return None

    await admin.pause_queue(QUEUE)
    try:
        await client.start()
        started = time.perf_counter()
        await admin.resume_queue(QUEUE)
        # Polls an in-memory counter: 2 ms is the resolution of the measurement.
        while client.completed_count < jobs:  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        return jobs / (time.perf_counter() - started)
    finally:
        await admin.resume_queue(QUEUE)
        await client.stop()


async def drain_pairs(
    dsn: str, feeder: Client, admin: Admin, jobs: int, runs: int, *, truncate: bool = True
) -> tuple[list[float], list[float]]:
    """(raw, pqw) jobs/s over `runs` runs, each side draining `jobs` freshly inserted jobs."""

    async def ours() -> float:
        await fill(feeder, jobs, truncate=truncate)
        return await pqw_drain(dsn, admin, jobs, DRAIN_CONCURRENCY)

    async def baseline() -> float:
        await fill(feeder, jobs, truncate=truncate)
        return await raw.raw_drain(dsn, jobs, DRAIN_CONCURRENCY)

    return await pairs(runs, baseline, ours)


async def bench_drain(dsn: str, feeder: Client, admin: Admin, jobs: int, runs: int) -> list[Figure]:
    """Drain of no-op jobs, one process, concurrency 16: pqw and the raw loop."""
    raw_samples, samples = await drain_pairs(dsn, feeder, admin, jobs, runs)
    shape = {"concurrency": DRAIN_CONCURRENCY, "jobs": jobs}
    base = Figure("raw drain (SKIP LOCKED loop)", "jobs/s", raw_samples, dict(shape))
    return [base, side_by_side("drain (no-op jobs)", "jobs/s", samples, base, shape)]


async def pqw_latency(dsn: str, feeder: Client, samples: int, interval: float) -> list[float]:
    """Milliseconds from insert to handler start on an idle pqw worker."""
    worker = Client(dsn, queues={QUEUE: LATENCY_CONCURRENCY}, auto_migrate=False)
    started: dict[int, float] = {}
    arrived = asyncio.Event()

    @worker.job("bench.ping", queue=QUEUE)
    async def ping(job: Job) -> None:
        started[job.args["n"]] = time.perf_counter()
        arrived.set()

    await worker.start()
    try:
        return await raw.time_inserts(
            lambda n: feeder.insert("bench.ping", {"n": n}, queue=QUEUE),
            samples,
            interval,
            started,
            arrived,
        )
    finally:
        await worker.stop()


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


async def bench_latency(dsn: str, feeder: Client, samples: int, runs: int) -> list[Figure]:
    """Insert-to-start latency, idle worker, one insert every 20 ms: p50 and p99 per run."""
    raw_runs: list[list[float]] = []
    our_runs: list[list[float]] = []

    async def ours() -> float:
        await reset(feeder)
        our_runs.append(await pqw_latency(dsn, feeder, samples, LATENCY_INTERVAL))
        return 0.0

    async def baseline() -> float:
        await reset(feeder)
        raw_runs.append(
            await raw.raw_latency(
                dsn,
                lambda n: feeder.insert("bench.ping", {"n": n}, queue=QUEUE),
                samples,
                LATENCY_INTERVAL,
                LATENCY_CONCURRENCY,
            )
        )
        return 0.0

    await pairs(runs, baseline, ours)
    shape = {"inserts": samples, "interval_ms": LATENCY_INTERVAL * 1000, "wake": "LISTEN/NOTIFY"}
    figures = []
    for p in (50, 99):
        base = Figure(
            f"raw insert-to-start latency p{p}",
            "ms",
            [percentile(run, p) for run in raw_runs],
            dict(shape),
        )
        ours_p = [percentile(run, p) for run in our_runs]
        figure = side_by_side(f"insert-to-start latency p{p}", "ms", ours_p, base, shape)
        if p == 50:
            figure.extra["p95_ms"] = round(
                statistics.median(percentile(run, 95) for run in our_runs), 2
            )
            figure.extra["p99_ms"] = round(
                statistics.median(percentile(run, 99) for run in our_runs), 2
            )
        figures += [base, figure]
    return figures
