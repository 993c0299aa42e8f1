"""A worker's log: what its runs log is captured (and nothing else), capped by rate, and
kept in a ring of bounded size."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from engine import Client, PersistentContext
from engine.admin import Admin
from engine.persistent import run_log
from engine.persistent.memory import LOG_BURST, LOG_LINES
from tests.helpers import wait_for

app_log = logging.getLogger("app.feed")


@pytest.fixture(autouse=True)
def info_level() -> Iterator[None]:
    """The application logs at INFO (records below a logger's level are never made)."""
    logger = logging.getLogger("app")
    before = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(before)


async def idle(ctx: PersistentContext) -> None:
    while not ctx.stopping:
        await ctx.sleep(5)


async def messages(admin: Admin, name: str) -> list[str]:
    return [line.message for line in await admin.worker_log(name, limit=LOG_LINES)]


async def test_what_the_run_logs_is_captured_and_nothing_else(
    make_client: Callable[..., Client], admin: Admin
) -> None:
    logged = asyncio.Event()

    def in_a_thread() -> None:
        app_log.info("from a thread of the run")

    async def handler(ctx: PersistentContext) -> None:
        app_log.info("polled %d items", 3)
        await asyncio.create_task(_child())
        await asyncio.to_thread(in_a_thread)
        ctx.log("checkpoint skipped", level="warning")
        try:
            raise ValueError("bad item")
        except ValueError:
            app_log.exception("item failed")
        logged.set()
        await idle(ctx)

    async def _child() -> None:
        app_log.info("from a task the run started")

    client = make_client()
    client.persistent("talker")(handler)
    await client.start()
    await asyncio.wait_for(logged.wait(), 10)
    app_log.warning("outside every run")  # the test's own line: not the worker's

    async def all_written() -> list[str] | None:
        found = await messages(admin, "talker")
        return found if any(m.startswith("item failed") for m in found) else None

    found = await wait_for(all_written, message="the lines written")
    assert found[0].startswith("run 1 started on ")
    assert found[1:5] == [
        "polled 3 items",
        "from a task the run started",
        "from a thread of the run",
        "checkpoint skipped",
    ]
    assert "ValueError: bad item" in found[5] and "Traceback" in found[5]
    assert not any("outside" in m for m in found)
    lines = await admin.worker_log("talker")
    assert [(x.level_name, x.logger) for x in lines[1:5]] == [
        ("INFO", "app.feed"),
        ("INFO", "app.feed"),
        ("INFO", "app.feed"),
        ("WARNING", "talker"),
    ]
    assert [x.seq for x in lines] == list(range(1, len(lines) + 1))
    assert all(x.run == 1 for x in lines)
    newer = await admin.worker_log("talker", after=lines[3].seq)
    assert [x.seq for x in newer] == [x.seq for x in lines[4:]]


async def test_a_chatty_loop_is_capped_and_counted_and_never_held_up(
    make_client: Callable[..., Client], admin: Admin, monkeypatch: Any
) -> None:
    done = asyncio.Event()
    # Heard though no handler gets it: the run's log takes records as they are made.
    chatty = logging.getLogger("app.chatty")
    monkeypatch.setattr(chatty, "propagate", False)

    async def handler(ctx: PersistentContext) -> None:
        for n in range(50_000):
            chatty.info("line %d", n)
            if n % 1000 == 0:
                await asyncio.sleep(0)
        done.set()
        await idle(ctx)

    client = make_client()
    client.persistent("chatty")(handler)
    await client.start()
    await asyncio.wait_for(done.wait(), 30)

    async def dropped() -> list[str] | None:
        found = await messages(admin, "chatty")
        return found if any("lines dropped" in m for m in found) else None

    found = await wait_for(dropped, message="the dropped-lines line")
    kept = [m for m in found if m.startswith("line ")]
    assert LOG_BURST <= len(kept) < 5_000
    # The burst, less the token of the run's first line (pqw's "run 1 started").
    assert kept[: LOG_BURST - 1] == [f"line {n}" for n in range(LOG_BURST - 1)]
    marker = next(m for m in found if "lines dropped" in m)
    assert "a run may log 50 lines a second, 200 at once" in marker
    assert await admin.pool.fetchval("SELECT count(*) FROM pqw_persistent_log") <= LOG_LINES


async def test_the_log_is_a_ring_the_newest_lines_overwrite_the_oldest(
    make_client: Callable[..., Client], admin: Admin, monkeypatch: Any
) -> None:
    ring = 40
    monkeypatch.setattr(run_log, "LOG_LINES", ring)
    monkeypatch.setattr(run_log, "BATCH", ring)
    monkeypatch.setattr(run_log, "LOG_BURST", 10_000)
    done = asyncio.Event()

    async def handler(ctx: PersistentContext) -> None:
        for n in range(150):
            app_log.info("line %d", n)
            if n % 20 == 0:
                await asyncio.sleep(0.6)  # over several writes
        done.set()
        await idle(ctx)

    client = make_client()
    client.persistent("ringed")(handler)
    await client.start()
    await asyncio.wait_for(done.wait(), 30)

    async def last_written() -> list[Any] | None:
        lines = await admin.worker_log("ringed", limit=1000)
        return lines if lines and lines[-1].message == "line 149" else None

    lines = await wait_for(last_written, message="the last line")
    assert [x.message for x in lines] == [f"line {n}" for n in range(150 - ring, 150)]
    assert [x.seq for x in lines] == list(range(152 - ring, 152))  # after "run 1 started"
    assert await admin.pool.fetchval("SELECT count(*) FROM pqw_persistent_log") == ring
