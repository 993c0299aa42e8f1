"""Throughput and latency figures: bulk enqueue, drain, insert-to-start latency, unique inserts."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from engine.cli.bench.figure import Figure, batches, reset
from engine.client import Client
from engine.types import InsertOpts, Job, JobSpec, UniqueOpts

QUEUE = "bench"


async def bench_enqueue(dsn: str, jobs: int, runs: int, inserters: int = 2) -> Figure:
    """Bulk enqueue: insert_many in batches of 1,000 (COPY), `inserters` at once."""
    figure = Figure("bulk enqueue", "jobs/s", extra={"batch": 1000, "inserters": inserters})
    client = Client(dsn, auto_migrate=False)
    try:
        for _ in range(runs):
            await client.insert_many([("bench.noop", {})])  # connect and warm up
            await reset(client)
            work = batches(jobs, 1000, lambda i: ("bench.noop", {"n": i}))
            started = time.perf_counter()

            async def insert(part: list[list[tuple[Any, ...]]]) -> None:
                for batch in part:
                    await client.insert_many(batch)

            await asyncio.gather(*(insert(work[i::inserters]) for i in range(inserters)))
            figure.samples.append(jobs / (time.perf_counter() - started))
    finally:
        await client.close()
    return figure


async def bench_unique(dsn: str, jobs: int, runs: int) -> Figure:
    """Unique inserts in batches of 1,000, half of each batch duplicates of the batch before."""
    figure = Figure("unique insert (half duplicates)", "jobs/s", extra={"batch": 1000})
    client = Client(dsn, auto_migrate=False)
    unique = UniqueOpts(by_args=True)
    try:
        for _ in range(runs):
            await client.insert_many([("bench.noop", {})])
            await reset(client)
            work = []
            for b in range(jobs // 1000):
                # 500 keys new in this batch, 500 repeated from the previous one.
                keys = [b * 500 + i for i in range(500)] + [
                    max(0, b - 1) * 500 + i for i in range(500)
                ]
                work.append([("bench.unique", {"key": k}) for k in keys])
            opts = InsertOpts(unique=unique)
            specs = [[JobSpec(kind, args, opts) for kind, args in batch] for batch in work]
            duplicates = 0
            started = time.perf_counter()
            for batch_specs in specs:
                results = await client.insert_many(batch_specs)
                duplicates += sum(r.duplicate for r in results)
            figure.samples.append(len(specs) * 1000 / (time.perf_counter() - started))
            figure.extra["duplicates"] = duplicates
    finally:
        await client.close()
    return figure


async def bench_drain(dsn: str, jobs: int, runs: int, concurrency: int = 16) -> Figure:
    """Drain: insert N no-op jobs, then time until every completion is committed."""
    figure = Figure("drain (no-op jobs)", "jobs/s", extra={"concurrency": concurrency})
    for _ in range(runs):
        client = Client(dsn, queues={QUEUE: concurrency}, auto_migrate=False)

        @client.job("bench.noop", queue=QUEUE)
        async def noop(job: Job) -> None:
            return None

        await client.insert_many([("bench.noop", {})])
        await reset(client)
        for batch in batches(jobs, 1000, lambda i: ("bench.noop", {"n": i})):
            await client.insert_many(batch)
        await client.pool.execute("VACUUM ANALYZE pqw_job")
        started = time.perf_counter()
        await client.start()
        # Polls an in-memory counter: 2 ms is the resolution of the measurement.
        while client.completed_count < jobs:  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        figure.samples.append(jobs / (time.perf_counter() - started))
        await client.stop()
    return figure


async def bench_latency(dsn: str, samples: int) -> Figure:
    """Insert-to-start latency on an idle worker: one insert at a time, from another pool."""
    figure = Figure("insert-to-start latency p50", "ms")
    worker = Client(dsn, queues={QUEUE: 4}, auto_migrate=False)
    started: dict[int, float] = {}
    arrived = asyncio.Event()

    @worker.job("bench.ping", queue=QUEUE)
    async def ping(job: Job) -> None:
        started[job.args["n"]] = time.perf_counter()
        arrived.set()

    inserter = Client(dsn, auto_migrate=False)
    await worker.start()
    try:
        await inserter.insert("bench.noop", {})  # connect
        latencies = []
        for n in range(samples + 5):
            arrived.clear()
            sent = time.perf_counter()
            await inserter.insert("bench.ping", {"n": n}, queue=QUEUE)
            await asyncio.wait_for(arrived.wait(), 10)
            if n >= 5:  # the first few warm up prepared statements
                latencies.append((started[n] - sent) * 1000)
            await asyncio.sleep(0.01)
    finally:
        await worker.stop()
        await inserter.close()
    cuts = statistics.quantiles(latencies, n=100)
    figure.samples = [statistics.median(latencies)]
    figure.extra = {"p95_ms": round(cuts[94], 2), "p99_ms": round(cuts[98], 2), "samples": samples}
    return figure
