"""`pqw worker` as a real process: startup line, graceful SIGTERM, SIGKILL mid-job, rescue elsewhere."""

from __future__ import annotations

import asyncio
import signal

import asyncpg
import pytest

from engine import Client
from tests.helpers import wait_for
from tests.processes import Workers, registered


async def events(db: asyncpg.Connection, event: str) -> list[asyncpg.Record]:
    return await db.fetch("SELECT * FROM test_event WHERE event = $1 ORDER BY id", event)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["terminate", "hang-up"])
async def test_worker_prints_a_startup_line_and_stops_gracefully_on_a_signal(
    db: asyncpg.Connection, workers: Workers, dsn: str, sig: signal.Signals
) -> None:
    proc = workers.spawn(queues="default=2,extra=1")
    await registered(db, proc.pid)
    inserter = Client(dsn, auto_migrate=False)
    try:
        job = (await inserter.insert("test.sleep", {"seconds": 1.0})).job
        await wait_for(lambda: events(db, "started"), timeout=30, message="the job to start")
        # A stop signal while the job runs (SIGHUP: its terminal was closed): the job
        # finishes, its completion is recorded, then exit 0.
        assert await asyncio.to_thread(workers.terminate, proc, 30, sig) == 0
        state = await db.fetchval("SELECT state FROM pqw_job WHERE id = $1", job.id)
        assert state == "completed"
    finally:
        await inserter.close()
    log = workers.logs()
    assert "started on" in log and "queues: default=2, extra=1, persistent=1" in log
    assert "kinds: test.record, test.sleep, test.tick" in log
    assert "stopped" in log
    assert await db.fetchval(
        "SELECT stopped_at IS NOT NULL FROM pqw_client WHERE pid = $1", proc.pid
    )


async def test_a_worker_started_under_nohup_ignores_a_hang_up(
    db: asyncpg.Connection, workers: Workers
) -> None:
    proc = workers.spawn(wrapper=["nohup"])
    await registered(db, proc.pid)
    proc.send_signal(signal.SIGHUP)
    # Had the hang-up counted as a first stop signal, this SIGTERM would be the second
    # and cancel running jobs; it is the first: a plain graceful stop.
    assert await asyncio.to_thread(workers.terminate, proc) == 0
    log = workers.logs()
    assert log.count("pqw: stopping") == 1 and "cancelling running jobs" not in log, log


async def test_a_bad_target_is_one_clear_line() -> None:
    from tests.helpers import run_pqw

    result = await asyncio.to_thread(run_pqw, "worker", "no.such.module:client")
    assert result.returncode == 1
    assert (
        result.stderr.strip() == "pqw: error: cannot import 'no.such.module': No module named 'no'"
    )
    result = await asyncio.to_thread(run_pqw, "worker", "tests.workers.app")
    assert "expected module:attribute" in result.stderr
    # A function is called as a factory of the client: one that needs arguments is not one.
    result = await asyncio.to_thread(run_pqw, "worker", "tests.helpers:wait_for")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("pqw: error: tests.helpers:wait_for needs arguments (")


async def test_sigkill_mid_job_leaves_it_running_then_it_runs_again_elsewhere(
    db: asyncpg.Connection, workers: Workers, dsn: str
) -> None:
    first = workers.spawn()
    first_id = await registered(db, first.pid)
    inserter = Client(dsn, auto_migrate=False)
    try:
        job = (await inserter.insert("test.sleep", {"seconds": 600}, max_attempts=3)).job
    finally:
        await inserter.close()
    await wait_for(lambda: events(db, "started"), timeout=30, message="the job to start")
    workers.kill(first.pid)
    row = await db.fetchrow(
        "SELECT state, attempted_by, heartbeat_at FROM pqw_job WHERE id = $1", job.id
    )
    assert row["state"] == "running" and row["attempted_by"] == [first_id]

    # Nobody else is up: it stays running, its heartbeat going stale.
    async def stale() -> bool:
        return bool(
            await db.fetchval(
                "SELECT now() - heartbeat_at > interval '1.2 seconds' FROM pqw_job WHERE id = $1",
                job.id,
            )
        )

    await wait_for(stale, timeout=10, message="a stale heartbeat")
    assert await db.fetchval("SELECT state FROM pqw_job WHERE id = $1", job.id) == "running"

    # Another worker comes up: its rescuer takes the job back and it runs again there.
    killed_at = await db.fetchval("SELECT clock_timestamp()")
    second = workers.spawn()
    await registered(db, second.pid)

    async def rerun() -> list[asyncpg.Record]:
        rows = await events(db, "started")
        return [r for r in rows if r["pid"] == second.pid]

    again = await wait_for(rerun, timeout=30, message="the job to run again on the second worker")
    assert again[0]["job_id"] == job.id
    # heartbeat timeout 1 s, plus election and a few passes: seconds, not an hour.
    assert (again[0]["at"] - killed_at).total_seconds() < 8
    row = await db.fetchrow("SELECT attempt, errors FROM pqw_job WHERE id = $1", job.id)
    assert row["attempt"] == 2
    assert f"rescued: client {first_id} stopped heartbeating" in row["errors"][0]["error"]
