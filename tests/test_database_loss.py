"""A database that goes away under a working client: nothing is lost, work resumes by itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg

from engine import Client, Job
from tests.helpers import wait_for


async def cut_sessions(db: asyncpg.Connection, client: Client) -> int:
    """Terminate every session of the client: pool, listener and leadership."""
    return int(
        await db.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE $1",
            f"pqw {client.id}%",
        )
    )


async def test_cut_connections_lose_no_job_and_work_resumes(
    make_client: Callable[..., Client], db: asyncpg.Connection
) -> None:
    client = make_client(queues={"default": 8}, job_heartbeat_interval=0.2)
    ran: dict[int, int] = {}

    @client.job("work", heartbeat_timeout=2.0)
    async def work(job: Job) -> None:
        ran[job.args["n"]] = ran.get(job.args["n"], 0) + 1
        await asyncio.sleep(0.005)

    await client.start()
    total = 300
    await client.insert_many([("work", {"n": n}) for n in range(total)])
    cuts = 0
    for _ in range(4):
        await wait_for(lambda: len(ran) > 0, message="work under way")
        # Cut once the client has reconnected its listener and at least one pool session.
        await wait_for(lambda: _sessions(db, client, 2), timeout=15, message="reconnected sessions")
        cuts += await cut_sessions(db, client)

    async def all_completed() -> bool:
        done = await db.fetchval("SELECT count(*) FROM pqw_job WHERE state = 'completed'")
        return bool(done == total)

    assert cuts >= 4
    await wait_for(all_completed, timeout=60, message="every job completed")
    # At least once: every job ran; one whose completion was cut may have run twice.
    assert set(ran) == set(range(total))
    # The client is still whole: notifications and fetching work after the cuts.
    late = (await work.enqueue({"n": total})).job
    await wait_for(
        lambda: _state(db, late.id, "completed"), timeout=10, message="a job after the cuts"
    )


async def _state(db: asyncpg.Connection, job_id: int, state: str) -> bool:
    return bool(await db.fetchval("SELECT state = $2 FROM pqw_job WHERE id = $1", job_id, state))


async def _sessions(db: asyncpg.Connection, client: Client, n: int) -> bool:
    count = await db.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1", f"pqw {client.id}%"
    )
    return bool(count >= n)
