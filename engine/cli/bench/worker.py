"""The worker process `pqw bench` starts for its failover and control figures.

Its single persistent worker writes what it observes (run started, config
seen, stop seen) into pqw_bench_event with the database clock, so the bench
can time each step against the same clock.
"""

from __future__ import annotations

import os

from engine.client import Client
from engine.persistent.context import PersistentContext

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
