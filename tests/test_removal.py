"""Records that could never be removed: a worker renamed in code, a queue paused by a typo."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import pytest

from engine import Client, InvalidJobOption, NotFound, PersistentContext
from engine.admin import Admin
from engine.admin.models import WorkerStatus
from tests.helpers import run_pqw, wait_for
from tests.tui.seed import add_client, add_running_run, add_worker


async def pqw(*args: str) -> tuple[int, str, str]:
    result = await asyncio.to_thread(run_pqw, *args)
    return result.returncode, result.stdout, result.stderr


async def live_runs(conn: asyncpg.Connection, name: str) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM pqw_job WHERE unique_key = pqw_persistent_run_key($1)"
            " AND pqw_job_state_in_bitmask(unique_states, state)",
            name,
        )
    )


async def test_a_worker_renamed_in_code_can_be_deleted_but_not_while_defined(
    make_client: Callable[..., Client], admin: Admin, conn: asyncpg.Connection, dsn: str
) -> None:
    old = make_client()

    @old.persistent("feed-poller")
    async def poller(ctx: PersistentContext) -> None:
        while not ctx.stopping:
            await ctx.sleep(60)

    await old.start()
    await wait_for(lambda: _status(admin, "feed-poller", WorkerStatus.RUNNING), message="running")
    with pytest.raises(InvalidJobOption, match="defined by live client"):
        await admin.delete_worker("feed-poller")
    code, _, err = await pqw("persistent", "delete", "feed-poller", "--dsn", dsn)
    assert code == 1 and "defined by live client" in err and "Traceback" not in err
    # The rename is deployed: the old client goes; the worker is nobody's now.
    await old.stop()
    await wait_for(
        lambda: _status(admin, "feed-poller", WorkerStatus.NO_CLIENT), message="no-client"
    )
    assert await live_runs(conn, "feed-poller") == 1  # its next run waits for a client
    code, out, _ = await pqw("persistent", "delete", "feed-poller", "--dsn", dsn)
    assert code == 0 and "feed-poller: deleted" in out
    assert await admin.list_persistent_workers() == []
    assert await live_runs(conn, "feed-poller") == 0
    with pytest.raises(NotFound):
        await admin.delete_worker("feed-poller")


async def test_a_worker_whose_run_still_runs_on_a_dead_client_waits_for_the_rescuer(
    admin: Admin, conn: asyncpg.Connection
) -> None:
    await add_client(conn, persistent=())
    await add_worker(conn, "orphan")
    await add_running_run(conn, "orphan")
    with pytest.raises(InvalidJobOption, match="rescuer takes it back"):
        await admin.delete_worker("orphan")
    assert [w.name for w in await admin.list_persistent_workers()] == ["orphan"]


async def test_pausing_an_unknown_queue_says_so_and_resuming_it_leaves_no_phantom(
    admin: Admin, dsn: str, conn: asyncpg.Connection
) -> None:
    await conn.execute("INSERT INTO pqw_job (kind, queue, max_attempts) VALUES ('k', 'mail', 5)")
    code, out, err = await pqw("queue", "pause", "mial", "--dsn", dsn)
    # Pausing ahead of the first job is allowed: an operator may want that.
    assert code == 0 and "queue mial paused" in out
    assert "no jobs and no live client works it" in err and "did you mean 'mail'?" in err
    assert {q.queue: q.paused for q in await admin.queue_state_counts()}["mial"]
    code, _, _ = await pqw("queue", "resume", "mial", "--dsn", dsn)
    assert code == 0
    assert [q.queue for q in await admin.queue_state_counts()] == ["mail"]
    code, _, err = await pqw("queue", "pause", "mail", "--dsn", dsn)
    assert code == 0 and "note" not in err


async def _status(admin: Admin, name: str, status: WorkerStatus) -> bool:
    workers = await admin.list_persistent_workers(name)
    return bool(workers) and workers[0].status is status
