"""pqw's own job kinds (`pqw.` prefix, persistent runs `pqw.persistent:<name>`) are reserved:
no public API inserts one, and a runner starts only a run pqw made."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from engine import Client, InvalidJobOption, JobSpec, PersistentContext, every
from engine.admin import Admin
from tests.helpers import wait_for


async def test_inserting_a_persistent_runs_kind_through_the_api_is_refused(
    make_client: Callable[..., Client],
) -> None:
    client = make_client()
    await client.connect()
    kind = "pqw.persistent:solo"
    with pytest.raises(InvalidJobOption, match=r"@client.persistent\('solo'\)"):
        await client.insert(kind, {})
    with pytest.raises(InvalidJobOption, match="reserved"):
        await client.insert_many([("ok.kind", {}), JobSpec(kind, {})])
    with pytest.raises(InvalidJobOption, match="reserved"):
        client.job(kind)(lambda job: None)
    with pytest.raises(InvalidJobOption, match="reserved"):
        client.periodic(kind, every(60))
    # The whole prefix is pqw's, not only persistent runs.
    with pytest.raises(InvalidJobOption, match=r"kinds starting with 'pqw\.' are pqw's own"):
        await client.insert("pqw.internal", {})
    assert await client.pool.fetchval("SELECT count(*) FROM pqw_job") == 0
    # A kind that only looks alike is a user's own.
    assert not (await client.insert("pqwx.persistent:solo", {})).duplicate


async def test_a_hand_inserted_row_of_a_runs_kind_never_starts_a_second_copy(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    starts: list[int] = []
    running = asyncio.Event()

    async def solo(ctx: PersistentContext) -> None:
        starts.append(ctx.job_id)
        running.set()
        while not ctx.stopping:
            await ctx.sleep(60)

    clients = [make_client(queues={"default": 2}), make_client(queues={"default": 2})]
    for client in clients:
        client.persistent("solo", heartbeat_interval=0.2, heartbeat_timeout=2.0)(solo)
    for client in clients:
        await client.start()
    await asyncio.wait_for(running.wait(), 10)
    genuine = starts[0]
    # Plain SQL, as a script or an old tool might: the run's kind, without its run key.
    # One in the runs' queue (the client without the run has a free slot for it), one
    # in a job queue (whose producer hands it to the runner by kind).
    forged = [
        await clients[0].pool.fetchval(
            "INSERT INTO pqw_job (kind, queue, max_attempts, args) "
            "VALUES ('pqw.persistent:solo', $1, 5, '{\"worker\": \"solo\"}') RETURNING id",
            queue,
        )
        for queue in ("persistent", "default")
    ]

    async def discarded() -> bool:
        jobs = [await admin.get_job(job_id) for job_id in forged]
        return all(job.state == "discarded" for job in jobs)

    await wait_for(discarded, timeout=10, message="the hand-inserted rows to be discarded")
    for job_id in forged:
        job = await admin.get_job(job_id)
        assert "not a run of persistent worker 'solo'" in job.errors[-1]["error"]
        assert "pqw persistent start solo" in job.errors[-1]["error"]
    worker = await admin.get_worker("solo")
    assert starts == [genuine] and worker.runs == 1 and worker.job_id == genuine


async def test_a_run_still_being_checked_when_its_client_begins_stopping_is_told_to_stop(
    make_client: Callable[..., Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the run registered itself only after the check, missed the stop, and the
    client waited its whole stop_timeout (seen as a flaky `pqw worker` SIGTERM test)."""
    import engine.persistent.manager as manager

    checking, release, on_stop_done = asyncio.Event(), asyncio.Event(), asyncio.Event()
    real_check, real_on_stop = manager.discard_forged_run, manager.PersistentManager.on_stop

    async def slow_check(*args: Any) -> bool:
        checking.set()
        await release.wait()
        return await real_check(*args)

    async def on_stop(self: manager.PersistentManager, cancel: bool) -> None:
        await real_on_stop(self, cancel)
        on_stop_done.set()

    monkeypatch.setattr(manager, "discard_forged_run", slow_check)
    monkeypatch.setattr(manager.PersistentManager, "on_stop", on_stop)
    reasons: list[str | None] = []

    async def solo(ctx: PersistentContext) -> None:
        while not ctx.stopping:
            await ctx.sleep(60)
        reasons.append(ctx.stop_reason)

    client = make_client(stop_timeout=120)
    client.persistent("solo")(solo)
    await client.start()
    await asyncio.wait_for(checking.wait(), 10)
    stopping = asyncio.create_task(client.stop())
    await asyncio.wait_for(on_stop_done.wait(), 10)
    release.set()
    await asyncio.wait_for(stopping, 30)  # far less than stop_timeout
    assert reasons == ["shutdown"]
