"""`pqw bench` runs end to end and reports every figure (tiny sizes: a smoke test, not a measurement)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from engine.cli.bench.figure import Figure, side_by_side
from engine.cli.bench.goals import check_goals
from engine.cli.bench.report import table
from engine.testing.pytest_plugin import with_database
from tests.helpers import ROOT, run_pqw, subprocess_env, wait_for


def parse(stdout: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(the run line, figures by name, goals by name) of a --json run."""
    lines = [json.loads(line) for line in stdout.splitlines()]
    runs = [line["run"] for line in lines if "run" in line]
    figures = {f["figure"]: f for f in lines if "figure" in f}
    goals = {g["goal"]: g for g in lines if "goal" in g}
    assert len(runs) == 1 and len(lines) == 1 + len(figures) + len(goals), lines
    return runs[0], figures, goals


async def test_bench_reports_each_figure_with_its_raw_baseline_and_goals(pg_server: str) -> None:
    result = await asyncio.to_thread(
        run_pqw,
        "bench",
        "--dsn",
        pg_server,
        "--quick",
        "--only",
        "enqueue,drain,latency,unique,bloat,dashboard",
        "--json",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    run, figures, goals = parse(result.stdout)
    assert run["runs"] == 1 and run["quick"] is True and run["loop"] in ("asyncio", "uvloop")
    # Each pqw throughput and latency figure names the raw figure it is a ratio to.
    compared = {
        "bulk enqueue": "raw bulk COPY",
        "drain (no-op jobs)": "raw drain (SKIP LOCKED loop)",
        "insert-to-start latency p50": "raw insert-to-start latency p50",
        "insert-to-start latency p99": "raw insert-to-start latency p99",
        "unique insert (half duplicates)": "raw unique insert (ON CONFLICT)",
        "drain (finished jobs present)": "raw drain (finished jobs present)",
    }
    for name, baseline in compared.items():
        figure = figures[name]
        assert figure["baseline"] == baseline
        raw = figures[baseline]
        assert "ratio" not in raw
        # One run: the ratio is that run's pqw figure over its raw one.
        assert abs(figure["ratio"] - figure["median"] / raw["median"]) < 0.01 * figure["ratio"]
    assert {
        "dashboard refresh (overview)",
        "dashboard queue counts",
        "dashboard jobs page (every queue)",
        "dashboard a job",
        "dashboard failures by cause",
    } <= set(figures)
    assert all(f["median"] > 0 for f in figures.values())
    assert figures["unique insert (half duplicates)"]["duplicates"] == 500
    assert {"p95_ms", "p99_ms"} <= set(figures["insert-to-start latency p50"])
    assert figures["insert-to-start latency p50"]["wake"] == "LISTEN/NOTIFY"
    assert len(figures["insert-to-start latency p50"]["samples"]) == 1  # one p50 per run
    assert figures["drain (finished jobs present)"]["finished_rows"] == 20_000
    assert figures["drain (finished jobs present)"]["of_empty"] > 0
    # Every goal of the issue whose figure ran, each with its value, bound and verdict.
    assert set(goals) == {
        "latency p50 <= 1.4x raw p50",
        "latency p99 <= 3 ms",
        "latency p99 <= 2x raw p99",
        "drain >= 65% of raw",
        "bulk insert >= 150,000 jobs/s",
        "unique insert >= 60,000 jobs/s",
        "drain, 20,000 finished >= 90% of empty",
    }
    for goal in goals.values():
        assert isinstance(goal["met"], bool) and goal["value"] > 0 and goal["bound"] > 0


async def test_bench_refuses_an_unknown_figure(pg_server: str) -> None:
    result = await asyncio.to_thread(
        run_pqw, "bench", "--dsn", pg_server, "--quick", "--only", "drain,speed", timeout=60
    )
    assert result.returncode == 2
    assert "unknown figure(s) speed" in result.stderr


def test_a_ratio_is_the_median_of_the_per_run_ratios() -> None:
    raw = Figure("raw drain (SKIP LOCKED loop)", "jobs/s", [100.0, 200.0, 50.0])
    ours = side_by_side("drain (no-op jobs)", "jobs/s", [70.0, 120.0, 40.0], raw)
    assert ours.ratio == 0.7  # of 0.7, 0.6 and 0.8, not 70/100 from the medians
    assert ours.baseline == raw.name
    (goal,) = check_goals([ours])
    assert goal.met and goal.value == 0.7 and goal.bound == 0.65
    latency = side_by_side("insert-to-start latency p99", "ms", [3.5], Figure("raw", "ms", [1.5]))
    verdicts = {g.name: g.met for g in check_goals([latency])}
    assert verdicts == {"latency p99 <= 3 ms": False, "latency p99 <= 2x raw p99": False}


def test_the_readme_table_is_made_from_json_lines(tmp_path: Path) -> None:
    raw = Figure("raw drain (SKIP LOCKED loop)", "jobs/s", [100.0])
    ours = side_by_side("drain (no-op jobs)", "jobs/s", [70.0], raw)
    lines = [json.dumps({"run": {"loop": "asyncio"}}), raw.as_json(), ours.as_json()]
    lines += [goal.as_json() for goal in check_goals([ours])]
    run = tmp_path / "run.jsonl"
    run.write_text("\n".join(lines) + "\n")
    assert table([str(run)]).splitlines() == [
        "| figure | pqw (asyncio) | raw loop, same runs | ratio |",
        "|---|---|---|---|",
        "| drain (no-op jobs) | 70 jobs/s | 100 jobs/s | 0.70× |",
        "",
        "| goal | asyncio |",
        "|---|---|",
        "| drain >= 65% of raw | 0.70 x raw: met |",
    ]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["terminate", "hang-up"])
async def test_a_bench_ended_by_a_signal_drops_its_scratch_database(
    pg_server: str, sig: signal.Signals
) -> None:
    """A `kill` or a closed terminal mid-figure ends the bench as Ctrl-C does: its cleanup
    runs (Python's default died on the spot and left the scratch database behind)."""
    command = ["bench", "--dsn", pg_server, "--only", "enqueue", "--jobs", "400000", "--runs", "1"]
    bench = subprocess.Popen(  # noqa: ASYNC220 - it only forks; waits are polled below
        [sys.executable, "-m", "engine.cli", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
        cwd=ROOT,
    )
    scratch = f"pqw_bench_{bench.pid}"
    admin = await asyncpg.connect(pg_server)
    try:

        async def inserting() -> bool:
            try:
                conn = await asyncpg.connect(with_database(pg_server, scratch))
            except asyncpg.InvalidCatalogNameError:
                return False
            try:
                return bool(await conn.fetchval("SELECT count(*) FROM pqw_job"))
            except asyncpg.UndefinedTableError:
                return False  # still migrating
            finally:
                await conn.close()

        await wait_for(inserting, timeout=90, interval=0.1, message="the bench to insert jobs")
        bench.send_signal(sig)
        _, err = await asyncio.to_thread(bench.communicate, timeout=60)

        assert bench.returncode == 128 + sig, err
        assert "Traceback" not in err, err
        exists = "SELECT count(*) FROM pg_database WHERE datname = $1"
        assert await admin.fetchval(exists, scratch) == 0, "the scratch database was left"
    finally:
        if bench.poll() is None:
            bench.kill()
            await asyncio.to_thread(bench.wait)
        await admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        await admin.close()
