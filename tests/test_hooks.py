"""Hooks: work middleware around every attempt (each outcome seen, contextvars reaching sync
handlers, a raising middleware losing nothing), insert middleware around every insert
(metadata added on every path, refusals writing nothing), persistent-run hooks."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from engine import (
    Client,
    InvalidJobType,
    Job,
    JobCancel,
    JobResult,
    JobSnooze,
    JobSpec,
    JobState,
    PendingInsert,
    PersistentContext,
    PersistentRunEnd,
    PersistentRunInfo,
    UniqueOpts,
)
from engine.admin import Admin
from engine.hooks import NextInsert, NextWork
from engine.jobs.inserter import COPY_THRESHOLD
from engine.types import InsertOpts, InsertResult
from tests.helpers import wait_for

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class Recorder:
    """Records every attempt's result and the order middleware run in."""

    def __init__(self, name: str = "recorder", trail: list[str] | None = None) -> None:
        self.name = name
        self.trail = trail if trail is not None else []
        self.results: list[tuple[str, int, JobResult]] = []

    async def work(self, job: Job, call_next: NextWork) -> None:
        self.trail.append(f"{self.name} before")
        result = await call_next()
        self.trail.append(f"{self.name} after")
        self.results.append((job.kind, job.attempt, result))

    def of(self, kind: str) -> list[tuple[int, JobResult]]:
        return [(attempt, result) for k, attempt, result in self.results if k == kind]


async def job_state(client: Client, job_id: int) -> dict[str, Any]:
    row = await client.pool.fetchrow(
        "SELECT state, attempt, errors, metadata, tags FROM pqw_job WHERE id = $1", job_id
    )
    return dict(row)


async def wait_state(client: Client, job_id: int, state: str) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        row = await job_state(client, job_id)
        return row if row["state"] == state else None

    return await wait_for(reached, timeout=20, message=f"job {job_id} {state}")


async def test_work_middleware_sees_every_outcome_of_real_jobs(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    recorder = Recorder()
    client = make_client(queues={"default": 4}, middleware=[recorder])
    release = asyncio.Event()

    @client.job("ok")
    async def ok(job: Job) -> None:
        pass

    @client.job("flaky", max_attempts=2)
    async def flaky(job: Job) -> None:
        raise ValueError(f"bad on attempt {job.attempt}")

    @client.job("sleepy")
    async def sleepy(job: Job) -> None:
        if not job.metadata.get("snoozes"):
            raise JobSnooze(0)

    @client.job("refused")
    async def refused(job: Job) -> None:
        raise JobCancel("not wanted")

    @client.job("slow", timeout=0.2, max_attempts=1)
    async def slow(job: Job) -> None:
        await asyncio.sleep(30)

    @client.job("held")
    async def held(job: Job) -> None:
        await release.wait()

    await client.start()
    ids = {kind: (await client.insert(kind, {})).job.id for kind in client.kinds}
    ids["nobody.runs"] = (await client.insert("nobody.runs", {}, max_attempts=1)).job.id
    await wait_state(client, ids["ok"], "completed")
    await wait_state(client, ids["flaky"], "discarded")
    await wait_state(client, ids["sleepy"], "completed")
    await wait_state(client, ids["refused"], "cancelled")
    await wait_state(client, ids["slow"], "discarded")
    await wait_for(lambda: ids["held"] in client.running_jobs, message="held running")
    await admin.cancel_job(ids["held"])
    await wait_state(client, ids["held"], "cancelled")
    await wait_state(client, ids["nobody.runs"], "discarded")
    await wait_for(lambda: len(recorder.results) == 9, message="every attempt recorded")

    ((_, result),) = recorder.of("ok")
    assert (result.state, result.error, result.message) == (JobState.COMPLETED, None, None)
    (first, second) = recorder.of("flaky")
    assert first[1].state is JobState.RETRYABLE and isinstance(first[1].error, ValueError)
    assert first[1].message == "ValueError: bad on attempt 1" and first[1].retry_in == 0.0
    assert second[1].state is JobState.DISCARDED and second[0] == 2
    snoozed, woke = recorder.of("sleepy")
    assert snoozed[1].snoozed and snoozed[1].retry_in == 0.0 and not woke[1].snoozed
    assert woke[1].state is JobState.COMPLETED
    ((_, cancel),) = recorder.of("refused")
    assert cancel.state is JobState.CANCELLED and cancel.message == "JobCancel: not wanted"
    ((_, timed_out),) = recorder.of("slow")
    assert timed_out.state is JobState.DISCARDED and isinstance(timed_out.error, TimeoutError)
    assert timed_out.message == "timed out after 0.2s"
    ((_, unknown),) = recorder.of("nobody.runs")
    assert unknown.state is JobState.DISCARDED and unknown.error is None
    assert unknown.message is not None and unknown.message.startswith("unknown job kind")
    ((_, operator),) = recorder.of("held")
    assert operator.state is JobState.CANCELLED
    assert operator.message == "cancel requested by an operator"


async def test_work_middleware_sees_a_lost_lease_and_records_nothing_for_it(
    make_client: Callable[..., Client],
) -> None:
    recorder = Recorder()
    client = make_client(queues={"default": 1}, job_heartbeat_interval=0.1, middleware=[recorder])

    @client.job("leased")
    async def leased(job: Job) -> None:
        await job.stopped()
        raise RuntimeError("told to stop")

    await client.start()
    job = (await leased.enqueue({})).job
    await wait_for(lambda: job.id in client.running_jobs, message="running")
    # Rescued and taken by another runner meanwhile: this attempt's lease is gone.
    await client.pool.execute("UPDATE pqw_job SET attempt = attempt + 1 WHERE id = $1", job.id)
    await wait_for(lambda: recorder.results, message="the attempt's result")
    ((_, _, result),) = recorder.results
    assert result.lease_lost and result.state is None
    row = await job_state(client, job.id)
    assert row["state"] == "running" and row["errors"] == []  # left to whoever holds it


async def test_middleware_run_in_registration_order_outermost_first(
    make_client: Callable[..., Client],
) -> None:
    trail: list[str] = []
    client = make_client(
        queues={"default": 1}, middleware=[Recorder("first", trail), Recorder("second", trail)]
    )
    client.middleware(Recorder("third", trail))

    @client.job("ordered")
    async def ordered(job: Job) -> None:
        trail.append("handler")

    await client.start()
    await ordered.enqueue({})
    await wait_for(lambda: len(trail) == 7, message="the whole trail")
    assert trail == [
        "first before",
        "second before",
        "third before",
        "handler",
        "third after",
        "second after",
        "first after",
    ]
    with pytest.raises(RuntimeError, match="before the client starts"):
        client.middleware(Recorder())


class RequestContext:
    """Sets the request id an insert stored in metadata for the job's handler."""

    async def insert(self, batch: list[PendingInsert], call_next: NextInsert) -> None:
        for job in batch:
            job.metadata["request_id"] = request_id.get()
        await call_next()

    async def work(self, job: Job, call_next: NextWork) -> JobResult:
        token = request_id.set(job.metadata.get("request_id"))
        try:
            return await call_next()
        finally:
            request_id.reset(token)


async def test_a_contextvar_set_by_middleware_reaches_a_sync_handler_in_its_thread(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(queues={"default": 2}, middleware=[RequestContext()])
    seen: list[tuple[str | None, bool]] = []

    @client.job("sync.context")
    def handler(job: Job) -> None:
        seen.append((request_id.get(), threading.current_thread() is threading.main_thread()))

    await client.start()
    token = request_id.set("req-42")
    try:
        job = (await handler.enqueue({})).job
    finally:
        request_id.reset(token)
    assert job.metadata == {"request_id": "req-42"}
    await wait_state(client, job.id, "completed")
    assert seen == [("req-42", False)]


class Unreliable:
    """Raises before call_next on a job's first attempt, after it on its second."""

    async def work(self, job: Job, call_next: NextWork) -> None:
        if job.args.get("auth") == "denied":
            raise JobCancel("not authorized")
        if job.attempt == 1:
            raise RuntimeError("middleware broke before the handler")
        await call_next()
        if job.attempt == 2:
            raise RuntimeError("middleware broke after the handler")


async def test_a_raising_work_middleware_fails_the_attempt_and_loses_nothing(
    make_client: Callable[..., Client],
) -> None:
    recorder = Recorder()
    client = make_client(queues={"default": 2}, middleware=[recorder, Unreliable()])
    ran: list[int] = []

    @client.job("guarded", max_attempts=5)
    async def guarded(job: Job) -> None:
        ran.append(job.attempt)

    await client.start()
    job = (await guarded.enqueue({})).job
    denied = (await guarded.enqueue({"auth": "denied"})).job
    row = await wait_state(client, job.id, "completed")
    assert row["attempt"] == 3 and ran == [2, 3]
    assert [e["error"] for e in row["errors"]] == [
        "RuntimeError: middleware broke before the handler",
        "RuntimeError: middleware broke after the handler",
    ]
    assert "in work" in row["errors"][0]["trace"]  # the middleware's own frame
    denied_row = await wait_state(client, denied.id, "cancelled")
    assert denied_row["errors"][0]["error"] == "JobCancel: not authorized"
    # The middleware outside it see the raising one's exception as the attempt's result.
    await wait_for(lambda: len(recorder.results) == 4, message="every attempt recorded")
    seen = sorted((a, r.state, r.message) for _, a, r in recorder.results)
    assert seen == [
        (1, JobState.CANCELLED, "JobCancel: not authorized"),
        (1, JobState.RETRYABLE, "RuntimeError: middleware broke before the handler"),
        (2, JobState.RETRYABLE, "RuntimeError: middleware broke after the handler"),
        (3, JobState.COMPLETED, None),
    ]


class Skipper:
    async def work(self, job: Job, call_next: NextWork) -> None:
        if job.args.get("skip"):
            return  # never calls on: the handler does not run, the job completes
        await call_next()
        await call_next()  # a second call is a bug, reported as the attempt's error


async def test_a_middleware_that_skips_completes_and_one_that_calls_twice_fails(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(queues={"default": 2}, middleware=[Skipper()])
    ran: list[dict[str, Any]] = []

    @client.job("skippable", max_attempts=1)
    async def skippable(job: Job) -> None:
        ran.append(job.args)

    await client.start()
    skipped = (await skippable.enqueue({"skip": True})).job
    twice = (await skippable.enqueue({})).job
    await wait_state(client, skipped.id, "completed")
    row = await wait_state(client, twice.id, "discarded")
    assert row["errors"][0]["error"] == "RuntimeError: call_next() was called twice for one attempt"
    assert ran == [{}]


class Stamp:
    """Adds metadata and a tag to every row, and remembers what each insert returned."""

    def __init__(self) -> None:
        self.batches: list[list[PendingInsert]] = []
        self.results: list[Sequence[InsertResult]] = []

    async def insert(self, batch: list[PendingInsert], call_next: NextInsert) -> None:
        self.batches.append(batch)
        for job in batch:
            job.metadata["stamped"] = True
            job.tags.append(f"by-{job.kind}")
        self.results.append(await call_next())


async def stored(client: Client, kind: str) -> list[tuple[dict[str, Any], list[str]]]:
    rows = await client.pool.fetch(
        "SELECT metadata, tags FROM pqw_job WHERE kind = $1 ORDER BY id", kind
    )
    return [(r["metadata"], list(r["tags"])) for r in rows]


async def test_insert_middleware_adds_metadata_on_every_insert_path(
    make_client: Callable[..., Client],
) -> None:
    stamp = Stamp()
    client = make_client(middleware=[stamp])
    one = await client.insert("one", {"n": 1}, metadata={"mine": 1}, tags=["t"])
    assert one.job.metadata == {"mine": 1, "stamped": True} and one.job.tags == ["t", "by-one"]
    small = await client.insert_many([("small", {"n": n}) for n in range(3)])
    bulk = await client.insert_many([JobSpec("bulk", {"n": n}) for n in range(COPY_THRESHOLD)])
    async with client.pool.acquire() as conn, conn.transaction():
        await client.insert_many([("own.tx", {"n": n}) for n in range(COPY_THRESHOLD)], conn=conn)

    assert await stored(client, "one") == [({"mine": 1, "stamped": True}, ["t", "by-one"])]
    for kind, count in (("small", 3), ("bulk", COPY_THRESHOLD), ("own.tx", COPY_THRESHOLD)):
        assert await stored(client, kind) == [({"stamped": True}, [f"by-{kind}"])] * count
    # Results are the rows as written (the COPY path builds them from what was sent).
    assert {r.job.metadata["stamped"] for r in [*small, *bulk]} == {True}
    assert [len(b) for b in stamp.batches] == [1, 3, COPY_THRESHOLD, COPY_THRESHOLD]
    assert stamp.batches[1][2].args == {"n": 2} and stamp.batches[1][0].queue == "default"


async def test_insert_middleware_sees_duplicates_in_the_results(
    make_client: Callable[..., Client],
) -> None:
    stamp = Stamp()
    client = make_client(middleware=[stamp])
    unique = InsertOpts(unique=UniqueOpts(by_args=True))
    first = await client.insert("report", {"day": 1}, opts=unique)
    again = await client.insert_many(
        [JobSpec("report", {"day": 1}, unique), JobSpec("report", {"day": 2}, unique)]
    )
    assert not first.duplicate and [r.duplicate for r in again] == [True, False]
    assert [[r.duplicate for r in results] for results in stamp.results] == [
        [False],
        [True, False],
    ]
    assert stamp.results[1][0].job.id == first.job.id


class Gate:
    """Refuses inserts of kinds it does not allow, before anything is written."""

    async def insert(self, batch: list[PendingInsert], call_next: NextInsert) -> None:
        for job in batch:
            if job.kind.startswith("admin."):
                raise PermissionError(f"{job.kind} needs an admin")
        await call_next()


class Quiet:
    async def insert(self, batch: list[PendingInsert], call_next: NextInsert) -> None:
        if batch[0].kind == "quiet":
            return  # neither inserts nor refuses: the caller is told
        if batch[0].kind == "unjson":
            batch[0].metadata["at"] = object()  # fails validation again: nothing is written
        await call_next()


async def test_a_refusing_insert_middleware_writes_nothing(
    make_client: Callable[..., Client],
) -> None:
    client = make_client(middleware=[Gate(), Quiet()])
    with pytest.raises(PermissionError, match=r"admin\.purge needs an admin"):
        await client.insert("admin.purge", {})
    with pytest.raises(PermissionError):
        await client.insert_many(
            [("fine", {"n": n}) for n in range(COPY_THRESHOLD)] + [("admin.purge", {})]
        )
    with pytest.raises(RuntimeError, match="Quiet returned without inserting"):
        await client.insert("quiet", {})
    with pytest.raises(InvalidJobType, match="metadata must be JSON-serializable"):
        await client.insert("unjson", {})
    async with client.pool.acquire() as conn, conn.transaction():
        with pytest.raises(PermissionError):
            await client.insert("admin.purge", {}, conn=conn)
        await client.insert("fine", {"in": "tx"}, conn=conn)
    assert await client.pool.fetchval("SELECT count(*) FROM pqw_job WHERE kind <> 'fine'") == 0
    assert await client.pool.fetchval("SELECT count(*) FROM pqw_job") == 1


def test_an_object_with_no_hook_is_refused_at_registration() -> None:
    with pytest.raises(TypeError, match="is no middleware"):
        Client(middleware=[object()])  # type: ignore[list-item]

    class SyncWork:
        def work(self, job: Job, call_next: NextWork) -> None: ...

    with pytest.raises(TypeError, match=r"SyncWork.work must be an async def"):
        Client(middleware=[SyncWork()])  # type: ignore[list-item]


class RunLog:
    def __init__(self) -> None:
        self.events: list[tuple[str, PersistentRunInfo, PersistentRunEnd | None]] = []

    def persistent_run_started(self, run: PersistentRunInfo) -> None:
        self.events.append(("started", run, None))

    def persistent_run_ended(self, run: PersistentRunInfo, end: PersistentRunEnd) -> None:
        self.events.append(("ended", run, end))

    def ends(self) -> list[tuple[str, bool]]:
        return [(e.reason, e.restarts) for kind, _, e in self.events if e is not None]


class BrokenRunHook:
    def persistent_run_started(self, run: PersistentRunInfo) -> None:
        raise RuntimeError("hook broke")


async def test_persistent_run_hooks_see_starts_crashes_stops_and_lost_leases(
    make_client: Callable[..., Client], admin: Admin, caplog: pytest.LogCaptureFixture
) -> None:
    runs = RunLog()
    client = make_client(middleware=[BrokenRunHook(), runs])
    started: list[int] = []

    @client.persistent("looper", heartbeat_interval=0.2, heartbeat_timeout=2.0)
    async def looper(ctx: PersistentContext) -> None:
        started.append(ctx.run)
        if len(started) == 1:
            raise ConnectionError("upstream down")
        while not ctx.stopping:
            await ctx.sleep(5)

    with caplog.at_level(logging.ERROR, logger="pqw.persistent"):
        await client.start()
        await wait_for(lambda: len(started) == 2, timeout=20, message="the run after the crash")
    assert "a run-started hook failed" in caplog.text  # logged, and the run went on
    await admin.stop_worker("looper")
    await wait_for(lambda: len(runs.ends()) == 2, timeout=20, message="the stop")
    assert runs.ends() == [("crash", True), ("stop", False)]
    crash = runs.events[1][2]
    assert crash is not None and isinstance(crash.error, ConnectionError)
    assert crash.state == "discarded"
    first, second = (e[1] for e in runs.events if e[0] == "started")
    assert (first.worker, first.run, second.run) == ("looper", 1, 2)

    await admin.start_worker("looper")
    await wait_for(lambda: len(started) == 3, timeout=20, message="the third run")
    third = [e[1] for e in runs.events if e[0] == "started"][-1]
    await admin.pool.execute("UPDATE pqw_job SET attempt = attempt + 1 WHERE id = $1", third.job_id)
    await wait_for(lambda: len(runs.ends()) >= 3, timeout=20, message="the lost lease")
    end = [e for _, _, e in runs.events if e is not None][2]
    assert end.lease_lost and end.state is None and not end.restarts
