"""The pqw command for operators: queues and persistent workers from the shell."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from engine import Client, PersistentContext
from engine.admin import Admin
from engine.admin.models import WorkerStatus
from tests.helpers import run_pqw, wait_for


async def pqw(*args: str) -> tuple[int, str, str]:
    result = await asyncio.to_thread(run_pqw, *args)
    return result.returncode, result.stdout, result.stderr


async def test_queue_pause_and_resume(dsn: str, admin: Admin) -> None:
    code, out, _ = await pqw("queue", "pause", "mail", "--dsn", dsn)
    assert code == 0 and "queue mail paused" in out
    assert {q.queue: q.paused for q in await admin.queue_state_counts()}["mail"]
    code, out, _ = await pqw("queue", "resume", "mail", "--dsn", dsn)
    assert code == 0
    # A resumed queue with no jobs and no client has nothing left to show: absent or unpaused.
    assert not {q.queue: q.paused for q in await admin.queue_state_counts()}.get("mail", False)
    code, _, err = await pqw("queue", "pause", "bad name", "--dsn", dsn)
    assert code == 1 and "queue must be 1 to 128 characters" in err and "Traceback" not in err


async def test_persistent_commands(
    make_client: Callable[..., Client], dsn: str, admin: Admin
) -> None:
    client = make_client()

    @client.persistent("ticker", config={"every": 1})
    async def ticker(ctx: PersistentContext) -> None:
        while not ctx.stopping:
            await ctx.sleep(60)

    await client.start()
    code, out, _ = await pqw("persistent", "list", "--dsn", dsn)
    assert code == 0 and out.splitlines()[1].startswith("ticker  running")  # under the header
    code, out, _ = await pqw("persistent", "stop", "ticker", "--dsn", dsn)
    assert code == 0 and "stop requested" in out
    await wait_for(lambda: _status(admin, WorkerStatus.STOPPED), message="stopped")
    code, out, _ = await pqw("persistent", "config", "ticker", '{"every": 5}', "--dsn", dsn)
    assert code == 0 and "config v2" in out
    code, _, err = await pqw("persistent", "config", "ticker", "{not json", "--dsn", dsn)
    assert code == 1 and "config is not valid JSON" in err
    code, _, err = await pqw("persistent", "start", "nobody", "--dsn", dsn)
    assert code == 1 and "no persistent worker named 'nobody'" in err
    code, _, _ = await pqw("persistent", "start", "ticker", "--dsn", dsn)
    await wait_for(lambda: _status(admin, WorkerStatus.RUNNING), message="running again")
    assert (await admin.get_worker("ticker")).config == {"every": 5}


async def _status(admin: Admin, status: WorkerStatus) -> bool:
    return (await admin.get_worker("ticker")).status is status
