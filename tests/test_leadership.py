"""The leader's sessions: every fenced transaction is bounded by the server, on PostgreSQL
17+ with transaction_timeout and before 17 with the older timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from engine import Client, sql
from engine.db.pool import Conn, create_pool
from engine.leadership.elector import Elector
from engine.leadership.pool import transaction_bounds
from tests.clients import FAST
from tests.helpers import wait_for

MODES = {"transaction_timeout": None, "before-17": False}


@pytest.mark.parametrize("mode", list(MODES))
async def test_fenced_transactions_are_bounded_by_the_server(
    make_client: Callable[..., Client], mode: str
) -> None:
    config = dataclasses.replace(FAST, leader_transaction_timeout=MODES[mode])
    client = make_client(maintenance=config)
    seen: dict[str, Any] = {}

    @client.leader_task("inspect", 0.05)
    async def inspect(conn: Conn) -> None:
        for name in (
            "transaction_timeout",
            "statement_timeout",
            "lock_timeout",
            "idle_in_transaction_session_timeout",
        ):
            seen[name] = await conn.fetchval("SELECT current_setting($1)", name)
        rows = await conn.fetch("SELECT statement FROM pg_prepared_statements")
        seen["prepared"] = {r["statement"] for r in rows}

    await client.start()
    await wait_for(lambda: "prepared" in seen, timeout=10, message="a fenced pass")
    ttl = f"{config.leader_ttl:g}s"
    if mode == "transaction_timeout":
        assert seen["transaction_timeout"] == ttl
        assert seen["statement_timeout"] == "0"
    else:
        assert seen["transaction_timeout"] == "0"
        assert seen["statement_timeout"] == ttl
        assert seen["idle_in_transaction_session_timeout"] == ttl
        assert seen["lock_timeout"] == f"{config.leader_ttl / 2:g}s"
        # Prepared when the session connected: no Parse inside a fenced transaction.
        for statement in (sql.RESCUE_STALE_JOBS, sql.INSERT_DUE_RUNS, sql.FENCE_LEADERSHIP):
            assert statement in seen["prepared"]
    # Set per transaction: the session itself keeps the server's defaults.
    async with client._node.leader_sessions.passes.acquire() as conn:  # type: ignore[union-attr]
        assert await conn.fetchval("SELECT current_setting('statement_timeout')") == "0"


@pytest.mark.parametrize("mode", list(MODES))
async def test_a_leader_stalled_inside_a_fenced_transaction_is_ended_by_the_server(
    make_client: Callable[..., Client], mode: str, conn: Any
) -> None:
    """The session of a pass that stops mid-transaction (the process frozen) is ended
    within about a lease, whatever it was doing: between a Parse and its Bind (where only
    transaction_timeout reaches it), or idle (where the older timeouts do)."""
    config = dataclasses.replace(FAST, leader_transaction_timeout=MODES[mode])
    client = make_client(maintenance=config)
    stalled: list[int] = []
    release = asyncio.Event()

    @client.leader_task("stall", 0.05)
    async def stall(conn: Conn) -> None:
        if stalled:
            return
        stalled.append(await conn.fetchval("SELECT pg_backend_pid()"))
        if mode == "transaction_timeout":
            await conn.prepare("SELECT 1 + $1::int")  # Parse/Describe/Flush, then nothing
        # Frozen, so deaf to the cancel a lost lease sends the passes (a hiccup of this
        # busy process can lose it): a rollback would end the transaction, not the server.
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()

    await client.start()
    await wait_for(lambda: stalled, timeout=10, message="the pass to stall")

    async def ended() -> bool:
        gone = await conn.fetchval(
            "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $1", stalled[0]
        )
        return bool(gone)

    # As when it froze for good: another client takes the lease (and this one, seeing it
    # lost, cancels its passes, which the frozen one does not hear).
    await conn.execute(
        "UPDATE pqw_leader SET leader_id = 'elsewhere', expires_at = now() + interval '1 hour'"
    )
    try:
        await wait_for(ended, timeout=config.leader_ttl + 5, message="the server to end it")
    finally:
        release.set()


def test_servers_before_17_get_the_older_timeouts() -> None:
    assert transaction_bounds(180000, 3.0).begin == sql.BEGIN_FENCED
    assert transaction_bounds(160004, 3.0).begin == sql.BEGIN_FENCED_BEFORE_17
    assert transaction_bounds(170000, 3.0, False).settings == ("3000", "1500")
    with pytest.raises(ValueError, match="needs PostgreSQL 17"):
        transaction_bounds(150000, 3.0, True)


async def test_a_stop_that_lands_as_a_renewal_finishes_still_ends_the_elector(dsn: str) -> None:
    """The client stops its elector by cancelling it. On Python 3.11 asyncio.wait_for drops
    a cancel that lands just as the call it waits on finishes, and the elector went on
    renewing for good while stop() waited for it (a teardown hung for 120 s)."""
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        elector = Elector(
            pool,
            "client-elector-test",
            ttl=2.0,
            renew_interval=0.5,
            on_elected=lambda: None,
            on_lost=lambda: None,
        )
        renew = elector._hold_or_take
        renewals = 0

        async def renew_then_be_cancelled() -> bool:
            nonlocal renewals
            ours = await renew()
            renewals += 1
            if renewals == 1:
                # The cancel arrives once the renewal is done, before run() resumes.
                asyncio.get_running_loop().call_soon(task.cancel)
            return ours

        elector._hold_or_take = renew_then_be_cancelled  # type: ignore[method-assign]
        task = asyncio.create_task(elector.run())
        await wait_for(task.done, timeout=10, message="the cancelled elector to end")
        assert task.cancelled() and renewals == 1
    finally:
        await pool.close()
