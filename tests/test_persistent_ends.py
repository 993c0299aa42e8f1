"""How persistent runs end: a handler that keeps returning backs off like a crashing one,
and says so without flooding the log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from engine import Client, PersistentContext
from engine.admin import Admin
from engine.admin.models import WorkerStatus
from engine.persistent.ending import crash_backoff
from tests.helpers import wait_for


async def test_a_handler_that_returns_at_once_backs_off_instead_of_restarting_every_second(
    make_client: Callable[..., Client], admin: Admin, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    starts: list[float] = []

    @client.persistent("quitter")
    async def quitter(ctx: PersistentContext) -> None:
        starts.append(asyncio.get_running_loop().time())  # and returns: no loop

    with caplog.at_level(logging.INFO, logger="pqw.persistent"):
        await client.start()
        await wait_for(lambda: len(starts) >= 3, timeout=20, message="three runs")

        async def backing_off() -> bool:
            worker = await admin.get_worker("quitter")
            return worker.status is WorkerStatus.BACKING_OFF and worker.consecutive_failures >= 3

        await wait_for(backing_off, timeout=10, message="the third quick end")
        row = await admin.pool.fetchrow(
            "SELECT consecutive_failures AS n, "
            "extract(epoch FROM next_run_at - last_run_ended_at)::float8 AS delay "
            "FROM pqw_persistent_worker WHERE name = 'quitter'"
        )
    # 1 s, 2 s, 4 s ... as for crashes, counted by the database itself.
    assert row["delay"] == crash_backoff(row["n"])
    worker = await admin.get_worker("quitter")
    assert worker.keeps_ending and worker.last_end_reason == "returned"
    assert worker.last_error is None  # returning is not an error
    # One line per run (plus the first start), not two per run forever.
    lines = [r for r in caplog.records if "quitter" in r.getMessage()]
    ends = [r.getMessage() for r in lines if "returned" in r.getMessage()]
    assert len(lines) <= len(ends) + 1, [r.getMessage() for r in lines]
    assert "loops until ctx.stopping" in ends[0]
