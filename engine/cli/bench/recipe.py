"""River's recipe in figures: how fast its long job fails over and sees a SIGTERM, to set
next to a persistent worker's (engine/cli/bench/failover.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import datetime
from typing import Any

from engine.admin import Admin
from engine.admin.models import RunningJobInfo
from engine.cli.bench.failover import CLOCK, FIRST_EVENT_AFTER, cluster, spawn_worker, until
from engine.cli.bench.figure import Figure
from engine.cli.bench.worker import RECIPE_KIND

TARGET = "engine.cli.bench.worker:recipe_client"


async def running_recipe(admin: Admin, not_pid: int | None) -> RunningJobInfo | None:
    for running in await admin.list_running_jobs():
        if running.job.kind == RECIPE_KIND and running.pid is not None and running.pid != not_pid:
            return running
    return None


async def bench_recipe(dsn: str, kills: int, samples: int) -> list[Figure]:
    """Seconds from SIGKILL of the recipe's runner to its job running on another
    process; milliseconds from SIGTERM to the loop seeing `job.stopping`, and
    seconds to the process's exit."""
    failover = Figure("recipe failover after SIGKILL", "s", extra={"kills": kills})
    seen = Figure("recipe: SIGTERM -> job.stopping", "ms", extra={"samples": samples})
    exited = Figure("recipe: SIGTERM -> process exit", "s", extra={"samples": samples})
    async with cluster(dsn, 2, TARGET) as (admin, procs):
        for _ in range(kills):
            running = await until(lambda: running_recipe(admin, None), 60, "a running recipe")
            victim = next(p for p in procs if p.pid == running.pid)
            killed_at: datetime = await admin.pool.fetchval(CLOCK)
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
            procs.remove(victim)
            procs.append(spawn_worker(dsn, TARGET))
            moved: Any = await until(
                lambda gone=victim.pid: running_recipe(admin, gone), 60, "the failover"
            )
            assert moved.job.attempted_at is not None
            failover.samples.append((moved.job.attempted_at - killed_at).total_seconds())
        failover.extra["max_s"] = round(max(failover.samples), 2)
        for _ in range(samples):
            running = await until(lambda: running_recipe(admin, None), 60, "a running recipe")
            victim = next(p for p in procs if p.pid == running.pid)
            sent: datetime = await admin.pool.fetchval(CLOCK)
            started = time.monotonic()
            victim.send_signal(signal.SIGTERM)
            at = await until(
                lambda sent=sent: admin.pool.fetchval(FIRST_EVENT_AFTER, "recipe-stopping", sent),
                30,
                "the loop to see the stop",
            )
            await asyncio.to_thread(victim.wait, 60)
            exited.samples.append(time.monotonic() - started)
            seen.samples.append((at - sent).total_seconds() * 1000)
            procs.remove(victim)
            procs.append(spawn_worker(dsn, TARGET))
        seen.extra["max_ms"] = round(max(seen.samples), 1)
        exited.extra["stop_timeout_s"] = 30
    return [failover, seen, exited]
