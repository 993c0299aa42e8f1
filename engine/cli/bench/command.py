"""`pqw bench`: throughput, latency, uniqueness and failover, measured against a scratch database.

Every figure is run several times; the table shows the median (and the spread)
because a small shared machine is noisy.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable

from engine.cli.bench import failover, recipe
from engine.cli.bench.dashboard import bench_dashboard
from engine.cli.bench.figure import Figure, scratch_database
from engine.cli.bench.throughput import (
    bench_drain,
    bench_enqueue,
    bench_latency,
    bench_unique,
)
from engine.db.dsn import resolve_dsn

Bench = Callable[[str, argparse.Namespace], Awaitable[list[Figure]]]


async def run_bench(args: argparse.Namespace) -> int:
    dsn = resolve_dsn(args.dsn)
    chosen = set(args.only.split(",")) if args.only else None
    figures: list[Figure] = []

    def wanted(name: str) -> bool:
        return chosen is None or name in chosen

    async with scratch_database(dsn) as scratch:
        if wanted("enqueue"):
            figures.append(await bench_enqueue(scratch, args.jobs, args.runs))
        if wanted("drain"):
            figures.append(await bench_drain(scratch, args.jobs // 2, args.runs))
        if wanted("latency"):
            figures.append(await bench_latency(scratch, args.latency_samples))
        if wanted("unique"):
            figures.append(await bench_unique(scratch, args.jobs // 2, args.runs))
        if wanted("dashboard"):
            # A kept database of its own next to the scratch one (built once).
            figures.extend(await bench_dashboard(dsn, args.dashboard_rows, args.dashboard_queues))
        if wanted("failover"):
            figures.append(await failover.bench_failover(scratch, args.kills))
        if wanted("control"):
            figures.extend(await failover.bench_control(scratch, args.control_samples))
        if wanted("recipe"):
            figures.extend(await recipe.bench_recipe(scratch, args.kills, args.control_samples))
    for figure in figures:
        print(figure.as_json() if args.json else figure.row(), flush=True)
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dsn", help="server to create a scratch database on (default: embedded)")
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs per throughput run")
    parser.add_argument("--runs", type=int, default=3, help="runs per throughput figure")
    parser.add_argument("--latency-samples", type=int, default=300)
    parser.add_argument("--kills", type=int, default=5, help="SIGKILLs for the failover figure")
    parser.add_argument("--control-samples", type=int, default=5)
    parser.add_argument(
        "--dashboard-rows",
        type=int,
        default=10_000_000,
        help="jobs in the dashboard's table (built once, kept for the next run)",
    )
    parser.add_argument("--dashboard-queues", type=int, default=20)
    parser.add_argument(
        "--only",
        help="comma-separated: enqueue,drain,latency,unique,dashboard,failover,control,recipe",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per figure")
    parser.set_defaults(run=run_bench)
