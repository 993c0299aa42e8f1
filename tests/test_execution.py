"""Running jobs: every outcome, timeouts, unknown kinds, cancellation, graceful and hard stops."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from engine import Client, Job, JobCancel, JobSnooze, JobState
from engine.admin import Admin
from tests.helpers import wait_for


async def job_row(client: Client, job_id: int) -> dict[str, Any]:
    # clock_timestamp(), not now(): now() is when this statement's transaction began,
    # which can be a little before the commit it sees (seen: 2 ms under load), so a
    # delay measured from it would read longer than the one the completer set.
    row = await client.pool.fetchrow(
        "SELECT state, attempt, max_attempts, errors, metadata, scheduled_at, finalized_at, "
        "attempted_by, heartbeat_at, clock_timestamp() AS now FROM pqw_job WHERE id = $1",
        job_id,
    )
    return dict(row)


async def wait_state(
    client: Client, job_id: int, *states: str, timeout: float = 10
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        row = await job_row(client, job_id)
        return row if row["state"] in states else None

    return await wait_for(check, timeout=timeout, message=f"job {job_id} to reach {states}")


async def test_a_returning_handler_completes_the_job(make_client: Callable[..., Client]) -> None:
    client = make_client(queues={"default": 2})
    seen: list[Job] = []

    @client.job("greet")
    async def greet(job: Job) -> None:
        seen.append(job)

    await client.start()
    job = (await greet.enqueue({"name": "Ada"})).job
    row = await wait_state(client, job.id, "completed")
    assert row["attempt"] == 1 and row["finalized_at"] is not None and row["errors"] == []
    assert seen[0].args == {"name": "Ada"} and seen[0].state is JobState.RUNNING
    assert row["attempted_by"] == [client.id]


async def test_sync_handlers_run_in_a_thread(make_client: Callable[..., Client]) -> None:
    client = make_client(queues={"default": 2})
    threads: list[str] = []

    @client.job("sync.work")
    def work(job: Job) -> None:
        threads.append(threading.current_thread().name)

    await client.start()
    job = (await work.enqueue({})).job
    await wait_state(client, job.id, "completed")
    assert threads and threads[0] != threading.main_thread().name


async def test_an_error_is_recorded_and_retried_then_discarded(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(queues={"default": 2})
    attempts: list[int] = []

    @client.job("flaky", max_attempts=3)
    async def flaky(job: Job) -> None:
        attempts.append(job.attempt)
        raise ValueError(f"bad input on attempt {job.attempt}")

    await client.start()
    job = (await flaky.enqueue({})).job
    row = await wait_state(client, job.id, "discarded")
    assert attempts == [1, 2, 3]
    assert [e["attempt"] for e in row["errors"]] == [1, 2, 3]
    assert row["errors"][0]["error"] == "ValueError: bad input on attempt 1"
    assert "Traceback" in row["errors"][0]["trace"] and "flaky" in row["errors"][0]["trace"]
    assert row["finalized_at"] is not None


async def test_retry_backoff_follows_the_policy(make_client: Callable[..., Client]) -> None:
    client = make_client(queues={"default": 1})

    @client.job("slow.retry", retry_backoff=lambda job: 3600.0)
    async def fail(job: Job) -> None:
        raise RuntimeError("try later")

    await client.start()
    job = (await fail.enqueue({})).job
    row = await wait_state(client, job.id, "retryable")
    delay = (row["scheduled_at"] - row["now"]).total_seconds()
    assert 3500 < delay <= 3600


async def test_default_backoff_is_about_attempt_to_the_fourth() -> None:
    from datetime import UTC, datetime

    from engine.jobs.retry import default_backoff

    def job_at(attempt: int) -> Job:
        now = datetime.now(UTC)
        return Job(1, "k", {}, "q", 1, JobState.RUNNING, attempt, 25, now, now)

    for attempt in (1, 2, 3, 5):
        delay = default_backoff(job_at(attempt))
        assert attempt**4 <= delay <= attempt**4 * 1.1


async def test_snooze_reschedules_without_spending_an_attempt(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(queues={"default": 1})
    calls: list[int] = []

    @client.job("snoozer", max_attempts=1)
    async def snoozer(job: Job) -> None:
        calls.append(job.attempt)
        if len(calls) == 1:
            raise JobSnooze(0.2)

    await client.start()
    job = (await snoozer.enqueue({})).job
    row = await wait_state(client, job.id, "completed")
    # Snoozed once; with max_attempts=1 it could only finish because the snooze was free.
    assert calls == [1, 1]
    assert row["metadata"]["snoozes"] == 1 and row["errors"] == []


async def test_job_cancel_cancels_now(make_client: Callable[..., Client]) -> None:
    client = make_client(queues={"default": 1})

    @client.job("cancel.me", max_attempts=5)
    async def cancel_me(job: Job) -> None:
        raise JobCancel("customer deleted their account")

    await client.start()
    job = (await cancel_me.enqueue({})).job
    row = await wait_state(client, job.id, "cancelled")
    assert row["attempt"] == 1
    assert row["errors"][0]["error"] == "JobCancel: customer deleted their account"


async def test_a_job_over_its_timeout_is_a_failed_attempt(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(queues={"default": 1})
    cancelled = asyncio.Event()

    @client.job("too.slow", timeout=0.2, max_attempts=1)
    async def too_slow(job: Job) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    await client.start()
    job = (await too_slow.enqueue({})).job
    row = await wait_state(client, job.id, "discarded")
    assert cancelled.is_set()
    assert row["errors"][0]["error"] == "timed out after 0.2s"


async def test_an_unknown_kind_is_a_failed_attempt_with_a_clear_error(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(queues={"default": 1})

    @client.job("known")
    async def known(job: Job) -> None: ...

    await client.start()
    job = (await client.insert("nobody.handles.this", {}, max_attempts=2)).job
    row = await wait_state(client, job.id, "retryable", "discarded")
    error = row["errors"][0]["error"]
    assert "unknown job kind 'nobody.handles.this'" in error and "kinds here: known" in error
    assert "another deployment may still run it" in error


async def test_fetch_respects_concurrency_and_priority(make_client: Callable[..., Client]) -> None:
    client = make_client(queues={"default": 2})
    running = 0
    peak = 0
    order: list[int] = []
    gate = asyncio.Event()

    @client.job("gated")
    async def gated(job: Job) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        order.append(job.args["p"])
        await gate.wait()
        running -= 1

    await client.connect()
    results = await client.insert_many([("gated", {"p": p}, None) for p in range(6)])
    # Make priority, not id, decide: the last two inserted run first.
    await client.pool.execute(
        "UPDATE pqw_job SET priority = 0 WHERE id = ANY($1)", [r.job.id for r in results[4:]]
    )
    await client.start()
    await wait_for(lambda: len(order) == 2, message="two jobs running")
    assert sorted(order) == [4, 5]
    assert running == 2
    gate.set()
    await wait_for(lambda: len(order) == 6, message="all jobs")
    assert peak == 2
    await wait_for(lambda: _completed(client, 6), message="six completions")


async def _completed(client: Client, n: int) -> bool:
    count = await client.pool.fetchval("SELECT count(*) FROM pqw_job WHERE state = 'completed'")
    return bool(count == n)


async def test_graceful_stop_waits_for_running_jobs_and_loses_no_completion(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(queues={"default": 20})
    started = asyncio.Event()
    release = asyncio.Event()

    @client.job("work")
    async def work(job: Job) -> None:
        started.set()
        await release.wait()

    await client.start()
    await client.insert_many([("work", {"n": n}) for n in range(20)])
    await started.wait()
    await wait_for(lambda: len(client.running_jobs) == 20, message="20 running")
    asyncio.get_running_loop().call_later(0.2, release.set)
    await client.stop()  # waits for the handlers, then flushes every completion
    admin = await Admin.connect(client.dsn)
    try:
        counts = await admin.pool.fetch("SELECT state, count(*) FROM pqw_job GROUP BY state")
        assert {r["state"]: r["count"] for r in counts} == {"completed": 20}
        stopped = await admin.pool.fetchval(
            "SELECT stopped_at FROM pqw_client WHERE id = $1", client.id
        )
        assert stopped is not None
    finally:
        await admin.close()


async def test_stop_with_cancel_interrupts_handlers(
    make_client: Callable[..., Client], dsn: str
) -> None:
    client = make_client(queues={"default": 3})
    interrupted: list[int] = []
    started = asyncio.Event()

    @client.job("long")
    async def long(job: Job) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            interrupted.append(job.id)
            raise

    await client.start()
    job = (await long.enqueue({})).job
    await started.wait()
    await client.stop(cancel=True)
    assert interrupted == [job.id]
    admin = await Admin.connect(dsn)
    try:
        after = await admin.get_job(job.id)
    finally:
        await admin.close()
    # Interrupted work may run again at once (the scheduler may already have made it
    # available), and the interruption is on record.
    assert after.state in (JobState.RETRYABLE, JobState.AVAILABLE)
    assert after.attempt == 1
    assert after.errors[-1]["error"] == "interrupted by client shutdown"


async def test_a_running_job_cancelled_from_another_process_stops_within_a_second(
    make_client: Callable[..., Client], dsn: str
) -> None:
    client = make_client(queues={"default": 1})
    started = asyncio.Event()
    cancelled = asyncio.Event()

    @client.job("cancellable")
    async def cancellable(job: Job) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    await client.start()
    job = (await cancellable.enqueue({})).job
    await started.wait()
    admin = await Admin.connect(dsn)
    try:
        marked = await admin.cancel_job(job.id)
        assert marked.state is JobState.RUNNING and "cancel_requested_at" in marked.metadata
        await asyncio.wait_for(cancelled.wait(), timeout=1.0)
        row = await wait_state(client, job.id, "cancelled")
        assert row["errors"][-1]["error"] == "cancel requested by an operator"
    finally:
        await admin.close()


async def test_running_jobs_are_heartbeated(make_client: Callable[..., Client]) -> None:
    client = make_client(queues={"default": 1}, job_heartbeat_interval=0.1)
    release = asyncio.Event()

    @client.job("beat")
    async def beat(job: Job) -> None:
        await release.wait()

    await client.start()
    job = (await beat.enqueue({})).job
    first = await wait_state(client, job.id, "running")

    async def moved() -> bool:
        row = await job_row(client, job.id)
        return bool(row["heartbeat_at"] > first["heartbeat_at"])

    await wait_for(moved, timeout=5, message="a newer heartbeat")
    release.set()
    await wait_state(client, job.id, "completed")
