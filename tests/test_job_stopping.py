"""A running plain job sees why it should end (`job.stopping`, `job.sleep`, `job.stop_event`):
at a graceful stop, an operator's cancel, a lost lease or its timeout."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import threading
from collections.abc import Callable

from engine import Client, Job, JobState
from engine.admin import Admin
from tests.helpers import wait_for


async def state_of(admin: Admin, job_id: int, *states: JobState) -> Job | None:
    job = await admin.get_job(job_id)
    return job if job.state in states else None


async def test_a_plain_job_learns_its_client_is_stopping_and_returns_before_stop_timeout(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    """Before: a loop had no way to know, and stop() waited the whole stop_timeout."""
    client = make_client(queues={"default": 2}, stop_timeout=120)
    started = asyncio.Event()
    reasons: list[str | None] = []

    @client.job("loop.async")
    async def loop_async(job: Job) -> None:
        started.set()
        while not job.stopping:
            await job.sleep(60)  # wakes at once on the stop
        reasons.append(job.stop_reason)

    await client.start()
    job = (await loop_async.enqueue({})).job
    await asyncio.wait_for(started.wait(), 10)
    # Far less than stop_timeout: the handler returned as soon as it was told.
    await asyncio.wait_for(client.stop(), 30)
    assert reasons == ["shutdown"]
    assert (await admin.get_job(job.id)).state is JobState.COMPLETED


async def test_a_sync_job_sees_the_stop_through_a_thread_safe_event(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    client = make_client(queues={"default": 2}, stop_timeout=120)
    started = threading.Event()
    reasons: list[str | None] = []

    @client.job("loop.sync")
    def loop_sync(job: Job) -> None:
        started.set()
        while not job.stop_event.wait(60):
            pass
        reasons.append(job.stop_reason)

    await client.start()
    job = (await loop_sync.enqueue({})).job
    await asyncio.to_thread(started.wait, 10)
    await asyncio.wait_for(client.stop(), 30)
    assert reasons == ["shutdown"]
    assert (await admin.get_job(job.id)).state is JobState.COMPLETED


async def test_an_operators_cancel_tells_the_job_and_still_ends_one_that_ignores_it(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    client = make_client(queues={"default": 2})
    thread_ended = threading.Event()
    sync_reasons: list[str | None] = []
    both_started = asyncio.Barrier(3)

    @client.job("ignores.stop")
    async def ignores(job: Job) -> None:
        await both_started.wait()
        await asyncio.sleep(3600)  # never looks at job.stopping

    @client.job("watches.stop")
    def watches(job: Job) -> None:
        asyncio.run_coroutine_threadsafe(both_started.wait(), loop)
        job.stop_event.wait(60)
        sync_reasons.append(job.stop_reason)
        thread_ended.set()

    loop = asyncio.get_running_loop()
    await client.start()
    stubborn = (await ignores.enqueue({})).job
    watcher = (await watches.enqueue({})).job
    await asyncio.wait_for(both_started.wait(), 10)
    await admin.cancel_job(stubborn.id)
    await admin.cancel_job(watcher.id)
    await wait_for(lambda: state_of(admin, stubborn.id, JobState.CANCELLED), message="cancelled")
    await wait_for(lambda: state_of(admin, watcher.id, JobState.CANCELLED), message="cancelled")
    # No cancel reaches a thread; the signal did, and the thread is gone too.
    assert await asyncio.to_thread(thread_ended.wait, 10)
    assert sync_reasons == ["cancel"]


async def test_a_job_whose_lease_is_lost_is_told_and_its_thread_ends(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    client = make_client(queues={"default": 1}, job_heartbeat_interval=0.1)
    started = threading.Event()
    ended = threading.Event()
    reasons: list[str | None] = []

    @client.job("leased")
    def leased(job: Job) -> None:
        started.set()
        job.stop_event.wait(60)
        reasons.append(job.stop_reason)
        ended.set()

    await client.start()
    job = (await leased.enqueue({})).job
    await asyncio.to_thread(started.wait, 10)
    # Rescued and taken by another runner meanwhile: this attempt's lease is gone.
    await client.pool.execute("UPDATE pqw_job SET attempt = attempt + 1 WHERE id = $1", job.id)
    assert await asyncio.to_thread(ended.wait, 10)
    assert reasons == ["lease lost"]


async def test_a_sync_job_past_its_timeout_is_told_to_stop(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    client = make_client(queues={"default": 1})
    ended = threading.Event()
    reasons: list[str | None] = []

    @client.job("slow.sync", timeout=0.3, max_attempts=1)
    def slow(job: Job) -> None:
        job.stop_event.wait(60)
        reasons.append(job.stop_reason)
        ended.set()

    await client.start()
    job = (await slow.enqueue({})).job
    assert await asyncio.to_thread(ended.wait, 10)
    assert reasons == ["timeout"]
    failed = await wait_for(lambda: state_of(admin, job.id, JobState.DISCARDED), message="failed")
    assert failed.errors[-1]["error"] == "timed out after 0.3s"


async def test_a_sync_job_that_ignores_its_timeout_is_not_retried_beside_its_thread(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    """Python cannot end the thread: until it returns, the job stays this client's (its
    lease heartbeated), and only then does the timed-out attempt fail and retry. Before,
    the retry started at once, in the same process, with the first thread still running."""
    client = make_client(
        queues={"default": 2}, job_heartbeat_interval=0.1, retry_backoff=lambda job: 0.0
    )
    told, release = threading.Event(), threading.Event()
    runs: list[tuple[str, int]] = []

    @client.job("stubborn.sync", timeout=0.3, max_attempts=2)
    def stubborn(job: Job) -> None:
        runs.append(("start", job.attempt))
        if job.attempt == 1:
            job.stop_event.wait(60)
            told.set()
            release.wait(60)  # a handler that ignores the signal, as some will
        runs.append(("end", job.attempt))

    await client.start()
    job = (await stubborn.enqueue({})).job
    assert await asyncio.to_thread(told.wait, 10)

    async def held_well_past_its_timeout() -> bool:
        row = await client.pool.fetchrow(
            "SELECT state, attempt, heartbeat_at - attempted_at AS ran FROM pqw_job WHERE id = $1",
            job.id,
        )
        assert row is not None and (row["state"], row["attempt"]) == ("running", 1), row
        return row["ran"].total_seconds() > 2.0  # heartbeats went on past 0.3 s

    await wait_for(held_well_past_its_timeout, message="the lease held while the thread runs")
    assert runs == [("start", 1)]
    release.set()
    done = await wait_for(lambda: state_of(admin, job.id, JobState.COMPLETED), message="retry")
    assert runs == [("start", 1), ("end", 1), ("start", 2), ("end", 2)]
    assert done.errors[-1]["error"] == "timed out after 0.3s"


async def test_the_stop_signal_is_no_part_of_a_jobs_value(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    client = make_client()
    await client.connect()
    inserted = (await client.insert("value.kind", {"a": 1})).job
    read, again = await admin.get_job(inserted.id), await admin.get_job(inserted.id)
    read._request_stop("shutdown")
    assert read == again and repr(read) == repr(again) and "stop" not in repr(read)
    assert read.stopping and not again.stopping
    # A copy of a job's data is a new value, not the running job.
    assert not dataclasses.replace(read, priority=2).stopping
    assert copy.deepcopy(read) == read and not copy.deepcopy(read).stopping
    # Waiting on a signal already set returns at once.
    await asyncio.wait_for(read.stopped(), 1)
    assert read.stop_event.is_set()
