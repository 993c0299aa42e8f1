"""Row locks held by someone else: they never stall a client's heartbeats or completions,
never get a job run twice, and never lose an outcome."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import asyncpg

from engine import Client, Job, UniqueOpts
from engine.jobs.producer import MAX_UNWRITTEN
from tests.helpers import wait_for

TIMEOUT = 3.0  # the heartbeat timeout of the jobs below
HOLD = TIMEOUT + 2.0  # how long the other session keeps its transaction open


async def job_rows(client: Client, *ids: int) -> dict[int, asyncpg.Record]:
    rows = await client.pool.fetch(
        "SELECT id, state, attempt, errors FROM pqw_job WHERE id = ANY($1)", list(ids)
    )
    return {r["id"]: r for r in rows}


def blocking_jobs(
    client: Client, runs: Counter[int], started: dict[int, asyncio.Event], release: asyncio.Event
) -> None:
    """Two kinds whose handlers count their runs and wait for `release`."""

    async def work(job: Job) -> None:
        runs[job.id] += 1
        started.setdefault(job.id, asyncio.Event()).set()
        await release.wait()

    client.register("report.build", work, heartbeat_timeout=TIMEOUT)
    client.register("other.work", work, heartbeat_timeout=TIMEOUT)


async def test_a_callers_open_transaction_does_not_stall_every_heartbeat_of_a_client(
    make_client: Callable[..., Client], conn: Any
) -> None:
    """A web request enqueues a duplicate of a running unique job inside its transaction
    and holds the transaction past the heartbeat timeout: nothing is rescued, nothing
    runs twice."""
    client = make_client(queues={"default": 4}, job_heartbeat_interval=0.3)
    runs: Counter[int] = Counter()
    started: dict[int, asyncio.Event] = {}
    release = asyncio.Event()
    blocking_jobs(client, runs, started, release)
    await client.start()
    unique = UniqueOpts(by_args=True)
    report = (await client.insert("report.build", {"day": 1}, unique=unique)).job
    other = (await client.insert("other.work", {})).job
    await wait_for(lambda: len(started) == 2, timeout=10, message="both jobs to start")

    transaction = conn.transaction()
    await transaction.start()
    try:
        duplicate = await client.insert("report.build", {"day": 1}, unique=unique, conn=conn)
        assert duplicate.duplicate and duplicate.job.id == report.id
        # The scenario itself, not a synchronisation: the transaction stays open past
        # the heartbeat timeout, as a slow request would keep it.
        await asyncio.sleep(HOLD)
    finally:
        await transaction.rollback()
    release.set()

    async def finished() -> bool:
        rows = await job_rows(client, report.id, other.id)
        return all(r["state"] == "completed" for r in rows.values())

    await wait_for(finished, timeout=15, message="both jobs to complete")
    rows = await job_rows(client, report.id, other.id)
    assert {job_id: r["attempt"] for job_id, r in rows.items()} == {report.id: 1, other.id: 1}
    assert all(r["errors"] == [] for r in rows.values()), [r["errors"] for r in rows.values()]
    assert runs == Counter({report.id: 1, other.id: 1})


async def test_a_job_whose_row_is_locked_past_its_heartbeat_timeout_runs_once_and_keeps_its_outcome(
    make_client: Callable[..., Client], conn: Any
) -> None:
    """Someone else locks two running jobs' rows past their heartbeat timeout; one job
    finishes meanwhile. Heartbeats of the third go on; none is rescued or run twice;
    the outcome written during the lock is not lost."""
    client = make_client(queues={"default": 4}, job_heartbeat_interval=0.3)
    runs: Counter[int] = Counter()
    started: dict[int, asyncio.Event] = {}
    release: dict[int, asyncio.Event] = {}

    async def work(job: Job) -> None:
        runs[job.id] += 1
        started.setdefault(job.id, asyncio.Event()).set()
        await release.setdefault(job.id, asyncio.Event()).wait()

    client.register("locked.work", work, heartbeat_timeout=TIMEOUT)
    await client.start()
    finishing, running, free = [(await client.insert("locked.work", {})).job.id for _ in range(3)]
    for job_id in (finishing, running, free):
        release.setdefault(job_id, asyncio.Event())
    await wait_for(lambda: len(started) == 3, timeout=10, message="the jobs to start")

    transaction = conn.transaction()
    await transaction.start()
    try:
        locked_at = await conn.fetchval("SELECT clock_timestamp()")
        await conn.execute(
            "SELECT 1 FROM pqw_job WHERE id = ANY($1) FOR UPDATE", [finishing, running]
        )
        release[finishing].set()  # its outcome meets the lock

        async def free_heartbeats() -> bool:
            beat = await client.pool.fetchval(
                "SELECT heartbeat_at FROM pqw_job WHERE id = $1", free
            )
            return beat is not None and bool(beat > locked_at)

        await wait_for(free_heartbeats, timeout=5, message="heartbeats of the unlocked job")
        await asyncio.sleep(HOLD)  # the scenario: the lock outlives the heartbeat timeout
        # Finished, but not written while its row is locked: still held by the client.
        assert await conn.fetchval("SELECT state FROM pqw_job WHERE id = $1", finishing) == (
            "running"
        )
        assert finishing not in client.running_jobs
    finally:
        await transaction.rollback()

    async def written() -> bool:
        state = await client.pool.fetchval("SELECT state FROM pqw_job WHERE id = $1", finishing)
        return bool(state == "completed")

    await wait_for(written, timeout=10, message="the outcome written after the lock")
    release[running].set()
    release[free].set()

    async def finished() -> bool:
        rows = await job_rows(client, finishing, running, free)
        return all(r["state"] == "completed" for r in rows.values())

    await wait_for(finished, timeout=15, message="every job to complete")
    rows = await job_rows(client, finishing, running, free)
    assert [rows[i]["attempt"] for i in (finishing, running, free)] == [1, 1, 1]
    assert all(r["errors"] == [] for r in rows.values()), [r["errors"] for r in rows.values()]
    assert runs == Counter({finishing: 1, running: 1, free: 1})


async def test_stalled_flushes_stop_fetching_instead_of_growing_the_backlog_without_bound(
    make_client: Callable[..., Client], conn: Any
) -> None:
    """While no outcome can be written, a client runs only as many jobs as its slots
    plus a bounded backlog of outcomes; once writes work again, every job is recorded,
    each run once."""
    concurrency = 4
    client = make_client(queues={"default": concurrency})
    runs: Counter[int] = Counter()

    async def quick(job: Job) -> None:
        runs[job.id] += 1

    client.register("quick.work", quick)
    await client.connect()
    total = MAX_UNWRITTEN + 4 * concurrency
    ids = [r.job.id for r in await client.insert_many([("quick.work", {})] * total)]

    transaction = conn.transaction()
    await transaction.start()
    try:
        # Every flush needs this table (the throughput counts): flushes stall.
        await conn.execute("LOCK TABLE pqw_throughput IN SHARE MODE")
        await client.start()
        bound = concurrency + MAX_UNWRITTEN  # running, plus outcomes waiting to be written
        await wait_for(lambda: sum(runs.values()) >= bound, timeout=30, message="the bound")
        # The scenario: writes stay stalled a while; the client must not run on.
        await asyncio.sleep(2.0)
        ran = sum(runs.values())
        assert ran == bound, f"{ran} of {total} jobs ran while no outcome could be written"
        running = await client.pool.fetchval("SELECT count(*) FROM pqw_job WHERE state = 'running'")
        assert running == ran
    finally:
        await transaction.rollback()

    async def all_completed() -> bool:
        done = await client.pool.fetchval(
            "SELECT count(*) FROM pqw_job WHERE state = 'completed' AND id = ANY($1)", ids
        )
        return bool(done == len(ids))

    await wait_for(all_completed, timeout=30, message="every job to be recorded")
    assert set(runs) == set(ids) and set(runs.values()) == {1}
    assert client.completed_count == len(ids)
