"""River's recipe works in pqw: a periodic job that honours its unique options, whose long
loop sees shutdown, across real worker processes (tests/workers/recipe.py); and what
the seed's recipe gets wrong is caught at the door."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from engine import Client, InvalidJobOption, JobState, UniqueOpts, every
from engine.admin import Admin, PeriodicInfo
from tests.clients import FAST
from tests.helpers import run_pqw, wait_for
from tests.processes import Workers, registered
from tests.workers.recipe import HEARTBEAT_TIMEOUT, STOP_TIMEOUT

RECIPE = "tests.workers.recipe:client"


async def runs(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(await db.fetch("SELECT * FROM test_run WHERE worker = 'recipe' ORDER BY id"))


async def recipe_jobs(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(await db.fetch("SELECT * FROM pqw_job WHERE kind = 'recipe.loop' ORDER BY id"))


async def recipe_schedule(admin: Admin) -> PeriodicInfo:
    return next(p for p in await admin.list_periodic_jobs() if p.id == "recipe.loop")


async def skips_beyond(admin: Admin, n: int) -> PeriodicInfo | None:
    info = await recipe_schedule(admin)
    return info if info.skips > n else None


async def at_least(rows: Any, n: int) -> Any:
    found = await rows
    return found if len(found) >= n else None


def never_overlap(rows: list[asyncpg.Record]) -> None:
    for before, after in itertools.pairwise(rows):
        end = before["ended_at"] or before["last_seen_at"]
        assert end <= after["started_at"], f"runs {before['id']} and {after['id']} overlapped"


async def test_the_recipe_runs_exactly_one_copy_across_ticks_and_the_next_after_it_returns(
    db: asyncpg.Connection, workers: Workers, admin: Admin, dsn: str
) -> None:
    """Before: the enqueuer's per-tick key replaced the recipe's own: five copies after 8 s."""
    procs = [workers.spawn(app=RECIPE), workers.spawn(app=RECIPE)]
    for proc in procs:
        await registered(db, proc.pid)
    (first,) = await wait_for(lambda: at_least(runs(db), 1), timeout=30, message="the first run")
    # Many ticks later, still the one job and the one run.
    info = await wait_for(lambda: skips_beyond(admin, 4), timeout=30, message="five ticks")
    assert [j["id"] for j in await recipe_jobs(db)] == [first["job_id"]]
    assert len(await runs(db)) == 1
    assert info.note == f"skipped: job {first['job_id']} still live"
    listed = await asyncio.to_thread(run_pqw, "periodic", "list", "--dsn", dsn)
    assert f"skipped: job {first['job_id']} still live" in listed.stdout, listed.stderr
    # The dashboard's view: a long-running job with its heartbeat.
    (running,) = await admin.list_running_jobs()
    assert running.job.id == first["job_id"] and running.periodic_id == "recipe.loop"
    assert running.heartbeat_timeout == HEARTBEAT_TIMEOUT and not running.stale
    assert running.where is not None and running.where.endswith(f":{first['pid']}")

    # The run returns: the next tick starts the next one, on either process.
    await db.execute(
        "INSERT INTO test_event (event, job_id) VALUES ('return-now', $1)", first["job_id"]
    )
    both = await wait_for(lambda: at_least(runs(db), 2), timeout=15, message="the next run")
    assert both[0]["job_id"] != both[1]["job_id"]
    jobs = await recipe_jobs(db)
    assert [j["state"] for j in jobs] == ["completed", "running"]
    never_overlap(both)


async def test_a_sigkilled_recipe_run_moves_after_the_heartbeat_timeout_and_both_schedules_survive_the_leader_change(
    db: asyncpg.Connection, workers: Workers, admin: Admin
) -> None:
    env = {"PQW_TEST_TICKS": "1"}  # and a schedule without unique options
    victim = workers.spawn(app=RECIPE, **env)
    victim_id = await registered(db, victim.pid)
    # Alone, it is the leader and runs the recipe's job.
    (first,) = await wait_for(lambda: at_least(runs(db), 1), timeout=30, message="the first run")
    assert first["pid"] == victim.pid
    await wait_for(lambda: _leader_is(db, victim_id), timeout=10, message="the first leader")
    survivor = workers.spawn(app=RECIPE, **env)
    survivor_id = await registered(db, survivor.pid)
    await wait_for(lambda: at_least(ticks(db), 2), timeout=20, message="ticks")
    skips_before = (await recipe_schedule(admin)).skips
    workers.kill(victim.pid)  # the leader and the runner at once

    moved = await wait_for(lambda: at_least(runs(db), 2), timeout=30, message="the run to move")
    second = moved[1]
    assert second["pid"] == survivor.pid and second["job_id"] == first["job_id"]
    # Taken back only once its heartbeat went stale (after the kind's heartbeat
    # timeout): the second copy started after the first was last seen.
    assert second["started_at"] > first["last_seen_at"]
    attempt = await db.fetchval("SELECT attempt FROM pqw_job WHERE id = $1", first["job_id"])
    assert attempt == 2
    rescued = await db.fetchval("SELECT errors FROM pqw_job WHERE id = $1", first["job_id"])
    assert f"rescued: client {victim_id} stopped heartbeating" in rescued[-1]["error"]

    # The new leader keeps both schedules: the recipe's ticks are skipped against the
    # one live job, the plain schedule inserts one job per scheduled time.
    await _wait_leader(db, survivor_id)
    count = len(await ticks(db))
    await wait_for(lambda: at_least(ticks(db), count + 2), timeout=20, message="more ticks")
    await wait_for(lambda: skips_beyond(admin, skips_before + 1), timeout=20, message="skips")
    assert [j["id"] for j in await recipe_jobs(db)] == [first["job_id"]]
    times = [r["detail"]["scheduled_for"] for r in await ticks(db)]
    assert len(times) == len(set(times)), "a scheduled time ran twice"
    jobs, distinct = await db.fetchrow(
        "SELECT count(*), count(DISTINCT metadata->>'scheduled_for') FROM pqw_job "
        "WHERE kind = 'test.tick'"
    )
    assert jobs == distinct, "a scheduled time was inserted twice"


async def test_sigterm_reaches_the_recipe_loop_and_the_worker_exits_without_waiting_for_stop_timeout(
    db: asyncpg.Connection, workers: Workers
) -> None:
    """Before: a plain job could not learn its worker was stopping; SIGTERM waited stop_timeout."""
    proc = workers.spawn(app=RECIPE)
    (run,) = await wait_for(lambda: at_least(runs(db), 1), timeout=30, message="the run")
    sent_at = await db.fetchval("SELECT clock_timestamp()")
    # Well within stop_timeout: the loop returned on the signal.
    assert await asyncio.to_thread(workers.terminate, proc, STOP_TIMEOUT / 4) == 0
    seen = await db.fetchrow(
        "SELECT at, detail FROM test_event WHERE event = 'stop-seen' AND job_id = $1", run["job_id"]
    )
    assert seen is not None and seen["detail"]["reason"] == "shutdown", workers.logs()
    assert (seen["at"] - sent_at).total_seconds() < 2.0
    state = await db.fetchval("SELECT state FROM pqw_job WHERE id = $1", run["job_id"])
    assert state == "completed"


async def ticks(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(await db.fetch("SELECT * FROM test_event WHERE event = 'tick' ORDER BY id"))


async def _leader_is(db: asyncpg.Connection, client_id: str) -> bool:
    current = await db.fetchval("SELECT leader_id FROM pqw_leader WHERE expires_at > now()")
    return bool(current == client_id)


async def _wait_leader(db: asyncpg.Connection, client_id: str) -> None:
    await wait_for(
        lambda: _leader_is(db, client_id), timeout=FAST.leader_ttl + 10, message="a new leader"
    )


async def test_the_seeds_retry_forever_is_refused_with_what_to_do_instead(
    make_client: Callable[..., Client],
) -> None:
    client = make_client()
    await client.connect()
    forever = r"got 1000000000; to keep a loop alive forever, define a persistent worker"
    with pytest.raises(InvalidJobOption, match=forever):
        await client.insert("recipe.loop", {}, max_attempts=1_000_000_000)
    with pytest.raises(InvalidJobOption, match=forever):
        client.job("recipe.loop", max_attempts=1_000_000_000)(lambda job: None)
    with pytest.raises(InvalidJobOption, match=forever):
        client.periodic("recipe.loop", every(2), max_attempts=1_000_000_000)
    # Unique states that would let a second copy in while one runs.
    leaky = UniqueOpts(by_state=[JobState.AVAILABLE, JobState.SCHEDULED])
    with pytest.raises(
        InvalidJobOption,
        match=r"missing: pending, running\. A job blocks its duplicates while it waits or runs; "
        r"to let one be inserted again once the last has finished, leave out the final states",
    ):
        client.periodic("recipe.loop", every(2), unique=leaky)
    assert await client.pool.fetchval("SELECT count(*) FROM pqw_job") == 0
