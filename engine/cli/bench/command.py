"""`pqw bench`: throughput, latency, uniqueness, memory and failover, measured on a scratch
database, each throughput and latency figure next to a raw asyncpg baseline of the same run.

Every figure is run several times; the table shows the median (and the spread)
because a small shared machine is noisy. The goals of issue 17 follow the
figures, each met or not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from engine.admin import Admin
from engine.cli.bench import failover, recipe
from engine.cli.bench.bloat import bench_bloat
from engine.cli.bench.dashboard import bench_dashboard
from engine.cli.bench.figure import Figure, scratch_database
from engine.cli.bench.goals import check_goals
from engine.cli.bench.memory import bench_memory
from engine.cli.bench.throughput import (
    bench_drain,
    bench_enqueue,
    bench_latency,
    bench_unique,
)
from engine.cli.loop import LoopChoice, add_loop_option, loop_name
from engine.client import Client
from engine.db.dsn import resolve_dsn

FIGURES = (
    "enqueue",
    "drain",
    "latency",
    "unique",
    "bloat",
    "memory",
    "dashboard",
    "failover",
    "control",
    "recipe",
)
# --quick: sizes for a smoke test (seconds, not a measurement).
QUICK = {
    "jobs": 2_000,
    "runs": 1,
    "latency_samples": 20,
    "finished": 20_000,
    "memory_seconds": 3.0,
    "dashboard_rows": 20_000,
    "kills": 1,
    "control_samples": 1,
}


def run_info(args: argparse.Namespace, loop: str) -> dict[str, object]:
    return {
        "loop": loop,
        "runs": args.runs,
        "jobs": args.jobs,
        "cpus": os.cpu_count(),
        "load_1m": round(os.getloadavg()[0], 2),
        "quick": args.quick,
    }


async def run_bench(args: argparse.Namespace) -> int:
    if args.quick:
        for name, value in QUICK.items():
            if getattr(args, name) is None:
                setattr(args, name, value)
    for name, value in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    dsn = resolve_dsn(args.dsn)
    chosen = set(args.only.split(",")) if args.only else set(FIGURES)
    unknown = chosen - set(FIGURES)
    if unknown:
        print(f"pqw bench: unknown figure(s) {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    loop: LoopChoice = args.loop
    info = run_info(args, loop_name(loop))
    print(json.dumps({"run": info}) if args.json else f"pqw bench: {info}", flush=True)
    figures: list[Figure] = []

    def show(new: list[Figure]) -> None:
        figures.extend(new)
        for figure in new:
            print(figure.as_json() if args.json else figure.row(), flush=True)

    async with scratch_database(dsn) as scratch:
        feeder = Client(scratch, auto_migrate=False)
        admin = await Admin.connect(scratch, application_name="pqw bench")
        try:
            await feeder.connect()
            if "enqueue" in chosen:
                show(await bench_enqueue(scratch, feeder, args.jobs, args.runs))
            drained: list[Figure] = []
            if "drain" in chosen or "bloat" in chosen:
                drained = await bench_drain(scratch, feeder, admin, args.jobs // 2, args.runs)
                show(drained if "drain" in chosen else [])
            if "latency" in chosen:
                show(await bench_latency(scratch, feeder, args.latency_samples, args.runs))
            if "unique" in chosen:
                show(await bench_unique(scratch, feeder, args.jobs // 2, args.runs))
            if "bloat" in chosen:
                empty = drained[1]
                show(
                    await bench_bloat(
                        scratch, feeder, admin, args.finished, args.jobs // 2, args.runs, empty
                    )
                )
            if "memory" in chosen:
                show(await bench_memory(scratch, feeder, args.memory_seconds))
        finally:
            await admin.close()
            await feeder.close()
        if "dashboard" in chosen:
            # A kept database of its own next to the scratch one (built once).
            show(await bench_dashboard(dsn, args.dashboard_rows, args.dashboard_queues))
        if "failover" in chosen:
            show([await failover.bench_failover(scratch, args.kills)])
        if "control" in chosen:
            show(await failover.bench_control(scratch, args.control_samples))
        if "recipe" in chosen:
            show(await recipe.bench_recipe(scratch, args.kills, args.control_samples))
    goals = check_goals(figures)
    for goal in goals:
        print(goal.as_json() if args.json else goal.row(), flush=True)
    return 0


DEFAULTS = {
    "jobs": 40_000,
    "runs": 3,
    "latency_samples": 300,
    "finished": 1_000_000,
    "memory_seconds": 600.0,
    "dashboard_rows": 10_000_000,
    "kills": 5,
    "control_samples": 5,
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dsn", help="server to create a scratch database on (default: embedded)")
    parser.add_argument(
        "--jobs", type=int, help="jobs per insert run; drains take half (default 40,000)"
    )
    parser.add_argument("--runs", type=int, help="runs per figure; medians are shown (default 3)")
    parser.add_argument("--latency-samples", type=int, help="inserts timed per run (default 300)")
    parser.add_argument(
        "--finished",
        type=int,
        help="finished jobs in the table for the bloat figure (default 1,000,000)",
    )
    parser.add_argument(
        "--memory-seconds",
        type=float,
        help="how long the memory figure drains and refreshes (default 600)",
    )
    parser.add_argument("--kills", type=int, help="SIGKILLs for the failover figures (default 5)")
    parser.add_argument("--control-samples", type=int)
    parser.add_argument(
        "--dashboard-rows",
        type=int,
        help="jobs in the dashboard's table (built once, kept for the next run; default 10M)",
    )
    parser.add_argument("--dashboard-queues", type=int, default=20)
    parser.add_argument("--only", help="comma-separated: " + ",".join(FIGURES))
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, one run: a smoke test of every figure asked for, not a measurement",
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per line: run, figures, goals"
    )
    add_loop_option(parser)
    parser.set_defaults(run=run_bench)
