"""Persistent workers across real processes: failover, no overlapping runs, control latency."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from datetime import datetime
from typing import Any

import asyncpg

from engine.admin import Admin
from engine.admin.models import WorkerStatus
from engine.errors import NotFound
from tests.helpers import wait_for
from tests.processes import Workers
from tests.workers.app import SINGLETON_INTERVAL, SINGLETON_TIMEOUT

NAME = "singleton"


async def running(admin: Admin, not_pid: int | None = None, not_job: int | None = None) -> Any:
    try:
        worker = await admin.get_worker(NAME)
    except NotFound:
        return None
    if worker.status is not WorkerStatus.RUNNING:
        return None
    if not_pid is not None and worker.pid == not_pid:
        return None
    if not_job is not None and worker.job_id == not_job:
        return None
    return worker


async def run_started_at(db: asyncpg.Connection, job_id: int) -> datetime | None:
    return await db.fetchval(
        "SELECT at FROM test_event WHERE event = 'run-started' AND job_id = $1", job_id
    )


async def overlaps(db: asyncpg.Connection) -> list[tuple[Any, ...]]:
    """Pairs of consecutive runs where the next started before the last was done.

    A killed run never records its end; the last time it was seen alive stands in.
    One heartbeat interval of overlap is the documented bound.
    """
    runs = await db.fetch(
        "SELECT id, pid, job_id, started_at, coalesce(ended_at, last_seen_at) AS done "
        "FROM test_run WHERE worker = $1 ORDER BY started_at",
        NAME,
    )
    bad = []
    for before, after in itertools.pairwise(runs):
        slack = (before["done"] - after["started_at"]).total_seconds()
        if slack > SINGLETON_INTERVAL:
            bad.append((dict(before), dict(after), slack))
    return bad


async def test_failover_after_sigkill_is_within_the_heartbeat_timeout_plus_two_seconds(
    db: asyncpg.Connection, admin: Admin, workers: Workers
) -> None:
    # Every member up before a kill: one still starting (slow on a loaded machine)
    # is no one to fail over to, and the failover would measure its start-up.
    for proc in [workers.spawn() for _ in range(3)]:
        await workers.ready(proc)
    for _ in range(3):
        current = await wait_for(lambda: running(admin), timeout=30, message="a running singleton")
        killed_at = await db.fetchval("SELECT clock_timestamp()")
        workers.kill(current.pid)
        moved = await wait_for(
            lambda current=current: running(admin, not_pid=current.pid),
            timeout=SINGLETON_TIMEOUT + 10,
            message="the run to fail over",
        )
        started = await wait_for(
            lambda moved=moved: run_started_at(db, moved.job_id), message="run-started"
        )
        failover = (started - killed_at).total_seconds()
        assert failover < SINGLETON_TIMEOUT + 2, f"failover took {failover:.2f}s"
        await workers.ready(workers.spawn())  # the cluster gets its member back
    assert await overlaps(db) == []


async def test_no_two_runs_overlap_while_processes_die_and_connections_are_cut(
    db: asyncpg.Connection, admin: Admin, workers: Workers
) -> None:
    for _ in range(3):
        workers.spawn()
    actions = ["kill", "terminate", "kill", "terminate", "freeze", "kill", "terminate"]
    for action in actions:
        current = await wait_for(lambda: running(admin), timeout=30, message="a running singleton")
        # Act only once this run's handler is in its loop (it has recorded itself).
        await wait_for(
            lambda current=current: run_started_at(db, current.job_id),
            timeout=30,
            message="the handler",
        )
        if action == "kill":
            workers.kill(current.pid)
            workers.spawn()
            await wait_for(
                lambda current=current: running(admin, not_pid=current.pid),
                timeout=30,
                message="failover",
            )
        elif action == "terminate":
            # Cut every session of the running client: pool, listener, leadership.
            cut = await db.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name LIKE $1",
                f"pqw {current.client_id}%",
            )
            assert cut >= 2
            # It reconnects and keeps (or loses and hands over) its lease; either way one run.
            await wait_for(lambda: running(admin), timeout=30, message="a run after the cut")
        else:
            # A partition: the runner stops dead past its lease, then comes back.
            os.kill(current.pid, signal.SIGSTOP)
            try:
                await wait_for(
                    lambda current=current: running(admin, not_job=current.job_id),
                    timeout=30,
                    message="a new run while the old runner is frozen",
                )
            finally:
                os.kill(current.pid, signal.SIGCONT)

            async def old_run_gave_up(current: Any = current) -> bool:
                ended = await db.fetchval(
                    "SELECT ended_at FROM test_run WHERE job_id = $1", current.job_id
                )
                return ended is not None

            await wait_for(old_run_gave_up, timeout=15, message="the frozen run to end itself")
    await wait_for(lambda: running(admin), timeout=30, message="a final run")
    assert await overlaps(db) == []
    live = await db.fetchval(
        "SELECT count(*) FROM pqw_job WHERE kind = 'pqw.persistent:singleton' "
        "AND state NOT IN ('completed', 'cancelled', 'discarded')"
    )
    assert live == 1
    runs = await db.fetchval("SELECT count(*) FROM test_run")
    assert runs >= 4


async def test_stop_start_and_reconfigure_reach_a_worker_process_within_a_second(
    db: asyncpg.Connection, admin: Admin, workers: Workers
) -> None:
    workers.spawn()
    current = await wait_for(lambda: running(admin), timeout=30, message="a running singleton")
    # "running" is true from the fetch on; wait until the handler itself is in its loop.
    await wait_for(lambda: run_started_at(db, current.job_id), timeout=10, message="the handler")

    async def event_after(event: str, since: datetime) -> datetime | None:
        return await db.fetchval(
            "SELECT at FROM test_event WHERE event = $1 AND at >= $2 ORDER BY at LIMIT 1",
            event,
            since,
        )

    async def latency(action: Any, event: str) -> float:
        sent = await db.fetchval("SELECT clock_timestamp()")
        await action()
        seen = await wait_for(lambda: event_after(event, sent), timeout=5, message=event)
        return (seen - sent).total_seconds()

    config = await latency(
        lambda: admin.set_worker_config(NAME, {"interval": 0.1, "label": "v2"}), "config-seen"
    )
    stop = await latency(lambda: admin.stop_worker(NAME), "stop-seen")
    await wait_for(lambda: _stopped(admin), timeout=10, message="stopped")
    start = await latency(lambda: admin.start_worker(NAME), "run-started")
    assert config < 1.0 and stop < 1.0 and start < 1.0, (config, stop, start)
    label = await db.fetchval(
        "SELECT detail->>'label' FROM test_event WHERE event = 'run-started' ORDER BY id DESC LIMIT 1"
    )
    assert label == "v2"  # the new run started with the operator's config


async def _stopped(admin: Admin) -> bool:
    return (await admin.get_worker(NAME)).status is WorkerStatus.STOPPED


async def test_sigterm_hands_the_run_over_at_once(
    db: asyncpg.Connection, admin: Admin, workers: Workers
) -> None:
    first = workers.spawn()
    second = workers.spawn()
    await workers.ready(first)
    await workers.ready(second)
    current = await wait_for(lambda: running(admin), timeout=30, message="a running singleton")
    runner = first if current.pid == first.pid else second
    stopped_at = await db.fetchval("SELECT clock_timestamp()")
    assert await asyncio.to_thread(workers.terminate, runner) == 0
    moved = await wait_for(
        lambda: running(admin, not_pid=runner.pid), timeout=10, message="handover"
    )
    started = await wait_for(lambda: run_started_at(db, moved.job_id), message="run-started")
    # A graceful stop ends the run and inserts the next: no waiting for a lease to lapse.
    assert (started - stopped_at).total_seconds() < SINGLETON_TIMEOUT, workers.logs()
    assert await overlaps(db) == []


async def test_a_handler_that_swallows_cancellation_is_given_up_on_at_sigterm(
    db: asyncpg.Connection, workers: Workers
) -> None:
    """SIGTERM: the grace runs out (said in the log), the cancelled handler ignores it,
    the process gives up on it and still exits; the rescuer restarts the run elsewhere."""
    stubborn = {"PQW_TEST_STUBBORN": "1"}
    first = workers.spawn(**stubborn)
    await workers.ready(first)

    async def started(count: int) -> bool:
        found = await db.fetchval(
            "SELECT count(*) FROM test_event WHERE event = 'stubborn-started'"
        )
        return bool(found >= count)

    await wait_for(lambda: started(1), timeout=30, message="the stubborn run")
    code = await asyncio.to_thread(workers.terminate, first, 60)
    logs = workers.logs()
    assert code == 1, logs
    assert "the handler did not return within its stop_grace (0.5s)" in logs, logs
    assert "ignored cancellation" in logs and "giving up on it" in logs, logs
    assert "exiting without waiting for them" in logs, logs
    workers.spawn(**stubborn)
    await wait_for(lambda: started(2), timeout=30, message="the run, restarted elsewhere")
