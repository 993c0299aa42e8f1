"""A persistent run's lease counted on the local clock: a handler never runs on past it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from engine import Client, PersistentContext
from engine.admin import Admin
from tests.helpers import wait_for

INTERVAL = 0.3
TIMEOUT = 1.0


def freeze(seconds: float) -> None:
    """Stop this whole process's event loop, as SIGSTOP (or a stalled VM) would."""
    time.sleep(seconds)


async def test_a_resumed_handler_sees_stopping_on_its_first_check_after_its_lease(
    make_client: Callable[..., Client],
) -> None:
    """Frozen past its lease, the handler resumes first, before any heartbeat could
    have told it anything: `stopping` must already be true."""
    client = make_client()
    seen: list[tuple[bool, str | None]] = []
    done = asyncio.Event()

    @client.persistent("frozen", heartbeat_interval=INTERVAL, heartbeat_timeout=TIMEOUT)
    async def frozen(ctx: PersistentContext) -> None:
        if ctx.run == 1:
            await ctx.sleep(INTERVAL * 2)  # a heartbeat or two confirm the lease
            freeze(TIMEOUT + 0.5)
            seen.append((ctx.stopping, ctx.stop_reason))
            done.set()
        while not ctx.stopping:
            await ctx.sleep(60)

    await client.start()
    await asyncio.wait_for(done.wait(), 15)
    assert seen == [(True, "lease lost")]


async def test_a_run_whose_heartbeats_are_blocked_stops_at_its_lease_deadline(
    make_client: Callable[..., Client],
    admin: Admin,
    conn: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The lease keeper cannot get a heartbeat through (someone holds the run's row);
    the sleeping handler is stopped at the local deadline, before the keeper's own
    blocked round trip gives up."""
    interval, timeout = 1.0, 2.5  # deadline: 1.5 s after the last confirmed heartbeat
    client = make_client()
    woke = asyncio.Event()
    started = asyncio.Event()
    seen: list[bool] = []

    @client.persistent("blocked", heartbeat_interval=interval, heartbeat_timeout=timeout)
    async def blocked(ctx: PersistentContext) -> None:
        if ctx.run > 1:
            return
        started.set()
        try:
            await ctx.sleep(60)
        finally:  # woken (and cancelled: the lease is gone) at the deadline
            seen.append(ctx.stopping)
            woke.set()

    await client.start()
    await asyncio.wait_for(started.wait(), 15)
    job_id = (await admin.get_worker("blocked")).job_id
    transaction = conn.transaction()
    await transaction.start()
    try:
        with caplog.at_level(logging.WARNING, logger="pqw.persistent"):
            await conn.execute("SELECT 1 FROM pqw_job WHERE id = $1 FOR UPDATE", job_id)
            await asyncio.wait_for(woke.wait(), timeout + 5)
            losses = [
                r.getMessage() for r in caplog.records if "cancelling the handler" in r.getMessage()
            ]
    finally:
        await transaction.rollback()
    assert seen == [True]
    assert losses == [
        "pqw: persistent worker blocked: the lease was not confirmed in time; cancelling the handler"
    ]

    async def taken_back() -> bool:
        state = await admin.pool.fetchval("SELECT state FROM pqw_job WHERE id = $1", job_id)
        return state != "running"

    await wait_for(taken_back, timeout=15, message="the run to be taken back")
