"""Run history and config versions: each way a run ends is recorded, who changed a config
is kept, and the cleaner keeps the newest of both."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from engine import Client, PersistentContext
from engine.admin import Admin, WorkerStatus
from engine.persistent.memory import CONFIG_VERSIONS_KEPT, RUNS_KEPT
from tests.helpers import wait_for


async def test_history_records_each_way_a_run_ends(
    make_client: Callable[..., Client], admin: Admin, conn: Any
) -> None:
    started: dict[int, asyncio.Event] = {n: asyncio.Event() for n in range(1, 9)}

    async def handler(ctx: PersistentContext) -> None:
        started[ctx.run].set()
        if ctx.run == 1:
            return  # returned by itself
        if ctx.run == 2:
            raise RuntimeError("ledger timed out")
        while not ctx.stopping:
            await ctx.sleep(5)

    client = make_client()
    client.persistent("story", config={"v": 1}, heartbeat_interval=0.2, heartbeat_timeout=5.0)(
        handler
    )
    await client.start()

    async def run_started(n: int) -> None:
        await asyncio.wait_for(started[n].wait(), 15)
        await wait_for(lambda: _job_of(admin, n), message=f"run {n} running")

    await run_started(1)
    # Returning and crashing back off; a start asks for the next run at once.
    for n in (2, 3):
        await wait_for(lambda n=n: _runs_ended(admin, n - 1), message=f"run {n - 1} ended")
        await admin.start_worker("story")
        await run_started(n)
    await admin.restart_worker("story")
    await run_started(4)
    await admin.set_worker_config("story", {"v": 2})
    await run_started(5)
    await admin.cancel_job(await _job_of(admin, 5))
    await run_started(6)
    await admin.stop_worker("story")
    await wait_for(lambda: _runs_ended(admin, 6), message="run 6 stopped")
    await admin.start_worker("story")
    await run_started(7)
    # Taken back behind the run's back: its next heartbeat finds the lease gone.
    await conn.execute(
        "UPDATE pqw_job SET state = 'discarded', finalized_at = now() WHERE id = $1",
        await _job_of(admin, 7),
    )
    await run_started(8)
    await client.stop(timeout=5)

    runs = list(reversed(await admin.worker_runs("story")))
    assert [r.run for r in runs] == list(range(1, 9))
    assert [r.end_reason for r in runs] == [
        "returned",
        "crash",
        "restart",
        "config",
        "cancel",
        "stop",
        "lease lost",
        "shutdown",
    ]
    assert [r.how for r in runs][:4] == ["returned", "crashed", "restarted", "config change"]
    assert runs[1].error == "RuntimeError: ledger timed out"
    assert runs[6].error == "the lease was taken over"
    assert [r.config_version for r in runs] == [1, 1, 1, 1, 2, 2, 2, 2]
    assert all(r.client_id == client.id and r.host and r.pid for r in runs)
    assert all(r.ended_at is not None and r.ended_at >= r.started_at for r in runs)


async def _job_of(admin: Admin, run: int) -> int | None:
    worker = await admin.get_worker("story")
    if worker.status is WorkerStatus.RUNNING and worker.runs == run and worker.job_id:
        return worker.job_id
    return None


async def _runs_ended(admin: Admin, count: int) -> bool:
    runs = await admin.worker_runs("story")
    return sum(1 for r in runs if r.ended) >= count


async def test_config_versions_keep_who_made_each(
    make_client: Callable[..., Client], dsn: str
) -> None:
    async def handler(ctx: PersistentContext) -> None:
        while not ctx.stopping:
            await ctx.sleep(5)

    first = make_client()
    first.persistent("configured", config={"every": 1})(handler)
    await first.connect()
    await first.persistent_manager.sync_definitions(first.pool)
    # New code with a new default, nobody having changed it: the code's again.
    second = make_client()
    second.persistent("configured", config={"every": 2})(handler)
    await second.connect()
    await second.persistent_manager.sync_definitions(second.pool)
    await second.persistent_manager.sync_definitions(second.pool)  # no change, no version
    admin = await Admin.connect(dsn, actor="ana@bastion")
    try:
        assert await admin.set_worker_config("configured", {"every": 3}) == 3
        versions = await admin.worker_configs("configured")
        assert [(v.version, v.config, v.changed_by) for v in versions] == [
            (3, {"every": 3}, "ana@bastion"),
            (2, {"every": 2}, "code default"),
            (1, {"every": 1}, "code default"),
        ]
        assert versions[0].changed_at >= versions[1].changed_at >= versions[2].changed_at
        # Saved again unchanged (the dialog's ctrl+s, a script's rerun): no new version,
        # so no restart of a worker that restarts on a new config.
        assert await admin.set_worker_config("configured", {"every": 3}) == 3
        assert len(await admin.worker_configs("configured")) == 3
        assert (await admin.get_worker("configured")).config_version == 3
    finally:
        await admin.close()


async def test_the_cleaner_keeps_the_newest_runs_and_config_versions(
    make_client: Callable[..., Client], admin: Admin, conn: Any
) -> None:
    await conn.execute("INSERT INTO pqw_persistent_worker (name) VALUES ('busy'), ('calm')")
    for name, runs in (("busy", RUNS_KEPT + 40), ("calm", 3)):
        await conn.execute(
            "INSERT INTO pqw_persistent_run (name, run, job_id, attempt, client_id, "
            "config_version, ended_at, end_reason) "
            "SELECT $1, n, n, 1, 'c', 1, now(), 'returned' FROM generate_series(1, $2) n",
            name,
            runs,
        )
    await conn.execute(
        "INSERT INTO pqw_persistent_config (name, version, config, changed_by) "
        "SELECT 'busy', n, '{}', 'code default' FROM generate_series(2, $1) n",
        CONFIG_VERSIONS_KEPT + 10,
    )
    client = make_client()
    await client.start()  # a leader with a cleaner

    async def pruned() -> bool:
        counts = await conn.fetch(
            "SELECT name, count(*) AS n, min(run) AS oldest FROM pqw_persistent_run GROUP BY name"
        )
        return {r["name"]: (r["n"], r["oldest"]) for r in counts} == {
            "busy": (RUNS_KEPT, 41),
            "calm": (3, 1),
        }

    # The cleaner prunes runs, then config versions, in separate transactions: wait
    # for both, not for the first only.
    async def configs_pruned() -> bool:
        versions = await admin.worker_configs("busy", limit=1000)
        return [v.version for v in versions] == list(range(CONFIG_VERSIONS_KEPT + 10, 10, -1))

    await wait_for(pruned, message="the run history pruned")
    await wait_for(configs_pruned, message="the config history pruned")
