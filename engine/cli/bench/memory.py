"""Memory figures: a worker process draining and the dashboard refreshing, side by side, for
a while; their resident set size after a warm-up and at the end (flat: grew at most 5%)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from engine.cli.bench.failover import spawn_worker
from engine.cli.bench.figure import Figure
from engine.cli.bench.throughput import BATCH, QUEUE
from engine.client import Client
from engine.types import InsertOpts, JobSpec

# Growth of RSS from the end of the warm-up to the end that still counts as flat.
FLAT_GROWTH = 0.05
FEED_RATE = 2_000  # jobs/s fed to the worker: well under what one process drains


def rss_mb(pid: int) -> float:
    """Resident set size of a live process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def spawn_dashboard(dsn: str, refresh: float) -> subprocess.Popen[bytes]:
    root = Path(__file__).resolve().parents[3]
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-m", "tui.dev.headless", "--dsn", dsn, "--refresh", str(refresh)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=root,
    )


async def feed(feeder: Client, until: float) -> int:
    """Insert FEED_RATE jobs a second into the bench queue until `until` (monotonic)."""
    fed = 0
    opts = InsertOpts(queue=QUEUE)
    while time.monotonic() < until:
        started = time.monotonic()
        await feeder.insert_many([JobSpec("bench.noop", {"n": i}, opts) for i in range(BATCH)])
        fed += BATCH
        await asyncio.sleep(max(0.0, BATCH / FEED_RATE - (time.monotonic() - started)))
    return fed


def memory_figure(name: str, samples: list[float], warm_up: int, seconds: float) -> Figure:
    start, end = samples[warm_up], samples[-1]
    growth = (end - start) / start
    return Figure(
        name,
        "MB",
        [end],
        {
            "start_mb": round(start, 1),
            "end_mb": round(end, 1),
            "max_mb": round(max(samples[warm_up:]), 1),
            "growth_pct": round(growth * 100, 1),
            "seconds": round(seconds),
            "flat": growth <= FLAT_GROWTH,
            # The trend: one sample in ten (one every ~10 s).
            "rss_mb": [round(x, 1) for x in samples[::10]],
        },
    )


async def bench_memory(dsn: str, feeder: Client, seconds: float) -> list[Figure]:
    """RSS of a `pqw worker` draining what is fed to it and of the dashboard refreshing
    every half second, sampled every second for `seconds` (the first fifth warms up)."""
    worker = spawn_worker(dsn, "engine.cli.bench.worker:drain_client")
    dashboard = spawn_dashboard(dsn, 0.5)
    try:
        until = time.monotonic() + seconds
        feeding = asyncio.create_task(feed(feeder, until))
        worker_rss: list[float] = []
        dashboard_rss: list[float] = []
        while time.monotonic() < until:
            await asyncio.sleep(1.0)
            for proc in (worker, dashboard):
                if proc.poll() is not None:
                    raise RuntimeError(f"bench: a memory figure's process exited ({proc.args!r})")
            worker_rss.append(rss_mb(worker.pid))
            dashboard_rss.append(rss_mb(dashboard.pid))
        fed = await feeding
        warm_up = max(1, len(worker_rss) // 5) if len(worker_rss) > 1 else 0
        drained = memory_figure("worker RSS while draining", worker_rss, warm_up, seconds)
        drained.extra["fed_jobs"] = fed
        shown = memory_figure("dashboard RSS while refreshing", dashboard_rss, warm_up, seconds)
        shown.extra["refresh_s"] = 0.5
        return [drained, shown]
    finally:
        for proc in (worker, dashboard):
            proc.terminate()
        for proc in (worker, dashboard):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
