"""The worker processes `pqw bench` starts for its failover and control figures.

`client`'s single persistent worker, and `recipe_client`'s River-style long job,
write what they observe (run started, config seen, stop seen) into
pqw_bench_event with the database clock, so the bench can time each step
against the same clock.
"""

from __future__ import annotations

import os
from datetime import timedelta

from engine.client import Client
from engine.persistent.context import PersistentContext
from engine.schedules import every
from engine.types import Job, JobState, UniqueOpts

WORKER = "bench-singleton"

RECORD_EVENT = """
INSERT INTO pqw_bench_event (event, pid, job_id, at) VALUES ($1, $2, $3, clock_timestamp())
"""

client = Client()


async def record(event: str, ctx: PersistentContext) -> None:
    await client.pool.execute(RECORD_EVENT, event, os.getpid(), ctx.job_id)


@client.persistent(
    WORKER,
    config={"interval": 0.5, "version": 0},
    heartbeat_interval=1.0,
    heartbeat_timeout=5.0,
    restart_on_config_change=False,
    stop_grace=1.0,
)
async def singleton(ctx: PersistentContext) -> None:
    await record("started", ctx)
    while not ctx.stopping:
        if ctx.config_changed.is_set():
            ctx.config_changed.clear()
            await record("config", ctx)
        await ctx.sleep(float(ctx.config["interval"]))
    await record("stopping", ctx)


# River's recipe, as the README shows it, with pqw's production defaults (job
# heartbeats every 2 s, maintenance every half second): a periodic job unique
# while live, whose handler loops until its job is told to stop.
RECIPE_KIND = "bench.recipe"
RECIPE_LIVE = [JobState.AVAILABLE, JobState.PENDING, JobState.RUNNING, JobState.RETRYABLE,
               JobState.SCHEDULED]  # fmt: skip

recipe_client = Client(queues={"default": 4})
recipe_client.periodic(
    RECIPE_KIND,
    every(2),
    run_on_start=True,
    unique=UniqueOpts(by_period=timedelta(hours=24), by_state=RECIPE_LIVE),
)


async def record_job(event: str, job: Job) -> None:
    await recipe_client.pool.execute(RECORD_EVENT, event, os.getpid(), job.id)


@recipe_client.job(RECIPE_KIND, heartbeat_timeout=5.0)
async def recipe(job: Job) -> None:
    await record_job("recipe-started", job)
    try:
        while not job.stopping:
            await job.sleep(0.5)
    finally:  # also when cancelled: a lost lease cancels the handler at once
        await record_job("recipe-stopping", job)


# The memory figure's worker: drains no-op jobs from the bench queue for as long
# as the bench feeds it.
drain_client = Client(queues={"bench": 16})


@drain_client.job("bench.noop", queue="bench")
async def drain_noop(job: Job) -> None:
    return None
