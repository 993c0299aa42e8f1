"""A persistent worker resumes from its checkpoint after SIGKILL, on another process; the
killed run's history says it failed over, and its client is marked dead."""

from __future__ import annotations

from typing import Any

import asyncpg

from engine.admin import LIVE_RUN_STATUSES, Admin
from tests.helpers import wait_for
from tests.processes import Workers

COUNTER = {"PQW_TEST_COUNTER": "1"}


async def counter_started(db: asyncpg.Connection, not_pid: int | None = None) -> Any:
    return await db.fetchrow(
        "SELECT pid, job_id, detail FROM test_event WHERE event = 'counter-started' "
        "AND pid IS DISTINCT FROM $1 ORDER BY id DESC LIMIT 1",
        not_pid,
    )


async def stored_count(db: asyncpg.Connection) -> int:
    state = await db.fetchval("SELECT state FROM pqw_persistent_state WHERE name = 'counter'")
    return int(state["count"]) if state else 0


async def test_a_killed_worker_resumes_from_its_last_checkpoint_on_another_process(
    db: asyncpg.Connection, admin: Admin, workers: Workers
) -> None:
    first = workers.spawn(**COUNTER)
    second = workers.spawn(**COUNTER)
    started = await wait_for(lambda: counter_started(db), timeout=30, message="the counter")
    # Let it count a while: the state in the database moves on with every checkpoint.
    await wait_for(lambda: _at_least(db, 20), timeout=30, message="20 checkpoints")
    runner = first if started["pid"] == first.pid else second
    client_id = await db.fetchval(
        "SELECT id FROM pqw_client WHERE pid = $1 AND stopped_at IS NULL", runner.pid
    )
    workers.kill(runner.pid)
    # Nothing writes the state now but the next run: this is where the killed one stopped.
    left_at = await stored_count(db)
    assert left_at >= 20

    resumed = await wait_for(
        lambda: counter_started(db, not_pid=runner.pid), timeout=30, message="the next run"
    )
    assert resumed["detail"]["state"]["count"] == left_at, workers.logs()
    assert resumed["detail"]["state"]["pid"] == runner.pid
    await wait_for(lambda: _at_least(db, left_at + 5), timeout=30, message="counting on")

    # The killed run's end is in the history: failed over, with who was lost.
    runs = await admin.worker_runs("counter")
    killed = next(r for r in runs if r.job_id == started["job_id"])
    assert killed.end_reason == "rescued" and killed.how == "failed over"
    assert killed.error is not None and client_id in killed.error
    assert runs[0].job_id == resumed["job_id"] and runs[0].end_reason is None
    assert runs[0].run == killed.run + 1
    # The killed client is marked dead: by the rescue itself when its own heartbeat was
    # as old as the run's timeout by then, else by the leader's sweep of clients (the
    # run's lease is its own and can lapse a client heartbeat before the client's does).
    await wait_for(
        lambda: db.fetchval("SELECT dead_at FROM pqw_client WHERE id = $1", client_id),
        timeout=30,
        message="the killed client marked dead",
    )
    clients = {c.id: c for c in await admin.list_clients()}
    assert not clients[client_id].alive
    worker = await admin.get_worker("counter")
    assert worker.status in LIVE_RUN_STATUSES and worker.pid != runner.pid


async def _at_least(db: asyncpg.Connection, count: int) -> bool:
    return await stored_count(db) >= count
