"""What pqw must do on any supported server and behind any pooler, written once.

Each scenario takes a factory of started-or-not clients and an Admin on the same
database, and asserts what a user would check; the PgBouncer and PostgreSQL
compatibility modules run them in their settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine import Client, Job, JobSpec, PersistentContext, UniqueOpts, every
from engine.admin import Admin, JobState, NotFound, WorkerStatus
from engine.db.pool import connect
from tests.helpers import wait_for

MakeClient = Callable[..., Client]


async def count_in(admin: Admin, state: JobState, kind: str | None = None) -> int:
    return len(await admin.list_jobs(state=state, kind=kind, limit=1000))


async def inserts(make: MakeClient, admin: Admin, user_url: str) -> None:
    """Plain, unique, bulk (COPY) and in the caller's transaction, rolled back and committed."""
    client = make()
    plain = await client.insert("email.send", {"to": "a@example.com"})
    assert not plain.duplicate and plain.job.args == {"to": "a@example.com"}

    unique = UniqueOpts(by_args=True)
    first = await client.insert("report.build", {"day": 1}, unique=unique)
    again = await client.insert("report.build", {"day": 1}, unique=unique)
    assert again.duplicate and again.job.id == first.job.id

    bulk = await client.insert_many([JobSpec("bulk.item", {"n": n}) for n in range(150)])
    assert len(bulk) == 150 and len({r.job.id for r in bulk}) == 150
    many_unique = await client.insert_many(
        [("report.build", {"day": d}, None) for d in range(3)]
        + [JobSpec("report.build", {"day": 1}, opts=None)]
    )
    assert [r.duplicate for r in many_unique] == [False, False, False, False]

    conn = await connect(user_url)
    try:
        tx = conn.transaction()
        await tx.start()
        rolled_back = await client.insert("in.tx", {"keep": False}, conn=conn)
        await tx.rollback()
        async with conn.transaction():
            kept = await client.insert("in.tx", {"keep": True}, conn=conn)
            (in_many,) = await client.insert_many([JobSpec("in.tx", {"keep": True})], conn=conn)
    finally:
        await conn.close()
    try:
        await admin.get_job(rolled_back.job.id)
        raise AssertionError("a job inserted in a rolled-back transaction exists")
    except NotFound:
        pass
    assert (await admin.get_job(kept.job.id)).args == {"keep": True}
    assert (await admin.get_job(in_many.job.id)).kind == "in.tx"
    assert await count_in(admin, JobState.AVAILABLE, "bulk.item") == 150


async def drain(make: MakeClient, admin: Admin) -> None:
    """A started client works every job, retrying the one that fails once."""
    client = make(queues={"default": 4})
    failed_once: set[int] = set()

    @client.job("work.item")
    async def work(job: Job) -> None:
        if job.args["n"] == 0 and job.id not in failed_once:
            failed_once.add(job.id)
            raise RuntimeError("first attempt fails")

    await client.insert_many([JobSpec("work.item", {"n": n}) for n in range(30)])
    await client.start()
    await wait_for(
        lambda: _equals(count_in(admin, JobState.COMPLETED, "work.item"), 30),
        timeout=30,
        message="30 jobs completed",
    )
    assert failed_once and await count_in(admin, JobState.AVAILABLE) == 0
    # Inserted while running: picked up too.
    late = await client.insert("work.item", {"n": 99})
    await wait_for(
        lambda: _state_is(admin, late.job.id, JobState.COMPLETED), timeout=15, message="late job"
    )


class Loop:
    """A persistent handler that records its runs and configs."""

    def __init__(self) -> None:
        self.runs = 0
        self.configs: list[dict[str, Any]] = []

    async def __call__(self, ctx: PersistentContext) -> None:
        self.runs += 1
        self.configs.append(dict(ctx.config))
        while not ctx.stopping:
            if ctx.config_changed.is_set():
                ctx.config_changed.clear()
                self.configs.append(dict(ctx.config))
            await ctx.sleep(60)  # only a stop or a config change wakes it


async def persistent_control(make: MakeClient, admin: Admin, *, within: float = 15) -> None:
    """A persistent worker runs, is stopped, started and reconfigured from the admin API."""
    client = make()
    loop = Loop()
    client.persistent("feed", config={"url": "a"}, heartbeat_interval=0.3, heartbeat_timeout=2)(
        loop
    )
    await client.start()
    await _worker_is(admin, "feed", WorkerStatus.RUNNING, within)
    # RUNNING is shown from the fetch on; a stop before the handler's first line would
    # end the run without calling it, so wait for the call itself.
    await wait_for(lambda: loop.runs == 1, timeout=within, message="the first run")
    await admin.stop_worker("feed")
    await _worker_is(admin, "feed", WorkerStatus.STOPPED, within)
    await admin.start_worker("feed")
    await _worker_is(admin, "feed", WorkerStatus.RUNNING, within)
    await wait_for(lambda: loop.runs == 2, timeout=within, message="the second run")
    version = await admin.set_worker_config("feed", {"url": "b"})
    assert version == 2
    await wait_for(
        lambda: loop.configs[-1] == {"url": "b"}, timeout=within, message="the new config"
    )
    assert (await admin.get_worker("feed")).config == {"url": "b"}


async def leader_elected(make: MakeClient, admin: Admin) -> None:
    client = make()
    await client.start()
    await wait_for(lambda: client.is_leader, timeout=15, message="the leader to be elected")
    leader = await admin.leader()
    assert leader is not None and leader.leader_id == client.id and leader.valid


async def dashboard_reads(make: MakeClient, admin: Admin) -> None:
    """Admin.overview(), list_jobs and get_job: what the dashboard reads every second."""
    client = make(queues={"default": 1})
    inserted = await client.insert_many([JobSpec("read.me", {"n": n}) for n in range(5)])
    await client.start()
    overview = await wait_for(
        lambda: _overview_with_client(admin, client.id), timeout=15, message="the overview"
    )
    assert overview.queues and overview.queues[0].queue == "default"
    assert len(overview.throughput) == 60
    listed = await admin.list_jobs(kind="read.me")
    assert {j.id for j in listed} == {r.job.id for r in inserted}
    job = await admin.get_job(inserted[0].job.id)
    assert job.kind == "read.me" and job.args == {"n": 0}


async def periodic(make: MakeClient, admin: Admin) -> None:
    """A durable schedule inserts runs on the leader, and they run."""
    client = make(queues={"default": 2})
    ran: list[int] = []

    @client.job("tick")
    async def tick(job: Job) -> None:
        ran.append(job.id)

    client.periodic("tick", every(1), run_on_start=True)
    await client.start()
    await wait_for(lambda: len(ran) >= 2, timeout=20, message="two periodic runs")
    (schedule,) = (await admin.overview()).periodic
    assert schedule.kind == "tick" and schedule.enabled


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def _state_is(admin: Admin, job_id: int, state: JobState) -> bool:
    return (await admin.get_job(job_id)).state is state


async def _worker_is(admin: Admin, name: str, status: WorkerStatus, within: float) -> None:
    async def check() -> bool:
        try:
            return (await admin.get_worker(name)).status is status
        except NotFound:
            return False

    await wait_for(check, timeout=within, message=f"{name} {status}")


async def _overview_with_client(admin: Admin, client_id: str) -> Any:
    overview = await admin.overview()
    return overview if any(c.id == client_id for c in overview.clients) else None
