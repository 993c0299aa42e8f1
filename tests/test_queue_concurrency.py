"""A queue's concurrency set live by an operator: every client working it applies it (at
start, on the notification, at each heartbeat) and shows what it works with."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from engine import Client, Job
from engine.admin import Admin
from tests.helpers import wait_for


async def test_clients_apply_a_queues_live_concurrency_and_show_it(
    dsn: str, make_client: Callable[..., Client]
) -> None:
    admin = await Admin.connect(dsn)
    client = make_client(queues={"q": 4}, job_heartbeat_interval=0.5)
    running = 0
    peak = 0
    gates = [asyncio.Event() for _ in range(3)]

    @client.job("gated", queue="q")
    async def gated(job: Job) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await gates[job.args["gate"]].wait()
        running -= 1

    try:
        await client.connect()
        # Set before the client starts: its very first fetch takes one job, not four.
        await admin.set_queue_concurrency("q", 1)
        await client.insert_many([("gated", {"gate": 0}, None) for _ in range(4)])
        await client.start()
        await wait_for(lambda: running == 1, timeout=30, message="one job running")
        await wait_for(lambda: _shows(client, {"q": 1}), timeout=30, message="1 shown")
        gates[0].set()
        await wait_for(lambda: _completed(client, 4), timeout=30, message="the four, one by one")
        assert peak == 1

        # Raised while it runs: three at once, and its row says so.
        await admin.set_queue_concurrency("q", 3)
        await client.insert_many([("gated", {"gate": 1}, None) for _ in range(5)])
        await wait_for(lambda: running == 3, timeout=30, message="three jobs running")
        await wait_for(
            lambda: _shows(client, {"q": 3}), timeout=30, message="the client row shows 3"
        )
        # Unset: back to the code's own four (the fourth starts without a new insert).
        await admin.set_queue_concurrency("q", None)
        await wait_for(lambda: running == 4, timeout=30, message="the code's four slots again")
        await wait_for(
            lambda: _shows(client, {"q": 4}), timeout=30, message="the client row shows 4"
        )
        gates[1].set()
        await wait_for(lambda: _completed(client, 9), timeout=30, message="all nine")
    finally:
        for gate in gates:
            gate.set()
        await admin.close()


async def test_a_client_without_notifications_applies_the_concurrency_at_its_heartbeat(
    dsn: str, make_client: Callable[..., Client]
) -> None:
    admin = await Admin.connect(dsn)
    client = make_client(queues={"q": 2}, job_heartbeat_interval=0.5)
    await client.start()
    try:
        await client.pool.execute(
            "INSERT INTO pqw_queue (name, concurrency) VALUES ('q', 0)"
            " ON CONFLICT (name) DO UPDATE SET concurrency = 0"
        )  # as if its notification were lost
        await wait_for(lambda: _shows(client, {"q": 0}), timeout=30, message="0 from the heartbeat")
    finally:
        await admin.close()


async def _shows(client: Client, queues: dict[str, int]) -> bool:
    row = await client.pool.fetchval("SELECT queues FROM pqw_client WHERE stopped_at IS NULL")
    return bool(row == queues)


async def _completed(client: Client, n: int) -> bool:
    count = await client.pool.fetchval("SELECT count(*) FROM pqw_job WHERE state = 'completed'")
    return bool(count == n)
