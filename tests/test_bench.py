"""`pqw bench` runs end to end and reports every figure (tiny sizes: a smoke test, not a measurement)."""

from __future__ import annotations

import asyncio
import json

from tests.helpers import run_pqw


async def test_bench_reports_each_figure_as_json(pg_server: str) -> None:
    result = await asyncio.to_thread(
        run_pqw,
        "bench",
        "--dsn",
        pg_server,
        "--jobs",
        "2000",
        "--runs",
        "1",
        "--latency-samples",
        "20",
        "--dashboard-rows",
        "20000",
        "--dashboard-queues",
        "20",
        "--only",
        "enqueue,drain,latency,unique,dashboard",
        "--json",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    figures = {f["figure"]: f for f in map(json.loads, result.stdout.splitlines())}
    assert set(figures) == {
        "bulk enqueue",
        "drain (no-op jobs)",
        "insert-to-start latency p50",
        "unique insert (half duplicates)",
        "dashboard refresh (overview)",
        "dashboard queue counts",
        "dashboard jobs page (every queue)",
        "dashboard jobs page (queue)",
        "dashboard jobs page (queue, state)",
        "dashboard jobs page (kind prefix)",
        "dashboard jobs page (args)",
        "dashboard jobs page (by finalized)",
        "dashboard a job",
        "dashboard failures by cause",
    }
    assert all(f["median"] > 0 for f in figures.values())
    assert figures["unique insert (half duplicates)"]["duplicates"] == 500
    assert {"p95_ms", "p99_ms"} <= set(figures["insert-to-start latency p50"])
