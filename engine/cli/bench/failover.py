"""Failover and control-latency figures: real worker processes, real SIGKILLs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.admin import Admin
from engine.admin.models import WorkerStatus
from engine.cli.bench.figure import Figure
from engine.cli.bench.worker import WORKER
from engine.errors import NotFound

CREATE_EVENTS = """
CREATE TABLE IF NOT EXISTS pqw_bench_event (
    id bigint GENERATED ALWAYS AS IDENTITY, event text, pid int, job_id bigint, at timestamptz)
"""
CLOCK = "SELECT clock_timestamp()"
FIRST_EVENT_AFTER = """
SELECT at FROM pqw_bench_event WHERE event = $1 AND at >= $2 ORDER BY at LIMIT 1
"""


def spawn_worker(
    dsn: str, target: str = "engine.cli.bench.worker:client"
) -> subprocess.Popen[bytes]:
    root = Path(__file__).resolve().parents[3]
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine.cli",
            "worker",
            target,
            "--dsn",
            dsn,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=root,
    )


@asynccontextmanager
async def cluster(
    dsn: str, size: int, target: str = "engine.cli.bench.worker:client"
) -> AsyncIterator[tuple[Admin, list[subprocess.Popen[bytes]]]]:
    """`size` bench worker processes and an admin; all stopped and closed afterwards."""
    admin = await Admin.connect(dsn)
    procs = [spawn_worker(dsn, target) for _ in range(size)]
    try:
        await admin.pool.execute(CREATE_EVENTS)
        yield admin, procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
        await admin.close()


async def until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"bench: timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def running_elsewhere(admin: Admin, not_pid: int | None) -> Any:
    try:
        worker = await admin.get_worker(WORKER)
    except NotFound:
        return None  # no worker process has registered it yet
    if worker.status is WorkerStatus.RUNNING and worker.pid != not_pid:
        return worker
    return None


async def bench_failover(dsn: str, kills: int) -> Figure:
    """Seconds from SIGKILL of the runner to the new run's first heartbeat, on another process."""
    figure = Figure("persistent failover after SIGKILL", "s", extra={"kills": kills})
    async with cluster(dsn, 2) as (admin, procs):
        worker = await until(lambda: running_elsewhere(admin, None), 60, "the first run")
        timeout = worker.heartbeat_timeout
        for _ in range(kills):
            worker = await until(lambda: running_elsewhere(admin, None), 60, "a running worker")
            victim = next(p for p in procs if p.pid == worker.pid)
            killed_at: datetime = await admin.pool.fetchval(CLOCK)
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
            procs.remove(victim)
            procs.append(spawn_worker(dsn))  # the cluster gets its member back
            moved = await until(
                lambda gone=victim.pid: running_elsewhere(admin, gone), timeout + 30, "the failover"
            )
            job = await admin.get_job(moved.job_id)
            assert job.attempted_at is not None
            figure.samples.append((job.attempted_at - killed_at).total_seconds())
        figure.extra["heartbeat_timeout_s"] = timeout
        figure.extra["bound_s"] = timeout + 1
        figure.extra["max_s"] = round(max(figure.samples), 2)
    return figure


async def bench_control(dsn: str, samples: int) -> list[Figure]:
    """Seconds from an operator action to the running handler seeing it."""
    stop = Figure("control: stop -> ctx.stopping", "ms", extra={"actions": samples})
    start = Figure("control: start -> run started", "ms", extra={"actions": samples})
    config = Figure("control: config -> handler", "ms", extra={"actions": samples})
    async with cluster(dsn, 1) as (admin, _procs):
        await until(lambda: running_elsewhere(admin, None), 60, "the first run")
        # Running from the fetch on; measure only once the handler is in its loop.
        epoch = datetime.fromtimestamp(0, UTC)
        await until(
            lambda: admin.pool.fetchval(FIRST_EVENT_AFTER, "started", epoch), 30, "the handler"
        )
        for n in range(samples):
            for figure, action, event in (
                (
                    config,
                    lambda n=n: admin.set_worker_config(
                        WORKER, {"interval": 0.5, "version": n + 1}
                    ),
                    "config",
                ),
                (stop, lambda: admin.stop_worker(WORKER), "stopping"),
                (start, lambda: admin.start_worker(WORKER), "started"),
            ):
                sent: datetime = await admin.pool.fetchval(CLOCK)
                await action()
                seen = await until(
                    lambda event=event, sent=sent: admin.pool.fetchval(
                        FIRST_EVENT_AFTER, event, sent
                    ),
                    10,
                    event,
                )
                figure.samples.append((seen - sent).total_seconds() * 1000)
                if event == "stopping":
                    # Wait for the stop to finish before starting again.
                    await until(
                        lambda: _status_is(admin, WorkerStatus.STOPPED), 10, "the stopped state"
                    )
        for figure in (stop, start, config):
            figure.extra["max_ms"] = round(max(figure.samples), 1)
    return [stop, start, config]


async def _status_is(admin: Admin, status: WorkerStatus) -> bool:
    return (await admin.get_worker(WORKER)).status is status
