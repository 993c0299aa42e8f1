"""A client's connections belong to the event loop they opened in.

Sync code inserts with one asyncio.run() after another (a script, a sync web view):
the second run found the first run's pool, bound to a closed loop, and failed with a
misleading "cannot connect ... another operation is in progress".
"""

from __future__ import annotations

import asyncio
import threading

import asyncpg
import pytest

from engine import Client


async def kinds_in(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r["kind"] for r in await conn.fetch("SELECT kind FROM pqw_job ORDER BY id")]
    finally:
        await conn.close()


def test_an_insert_only_client_works_from_one_asyncio_run_after_another(dsn: str) -> None:
    client = Client(dsn, auto_migrate=False)
    for n in range(3):
        asyncio.run(client.insert(f"report.build.{n}", {}))
    asyncio.run(client.close())  # its pool's loop is gone: closed without waiting on it
    asyncio.run(client.insert("report.build.3", {}))
    asyncio.run(client.close())
    assert asyncio.run(kinds_in(dsn)) == [f"report.build.{n}" for n in range(4)]


def test_a_client_in_use_on_another_running_loop_says_so(dsn: str) -> None:
    client = Client(dsn, auto_migrate=False)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(client.insert("in.thread", {}), loop).result(30)
        with pytest.raises(RuntimeError, match="belong to another running event loop"):
            asyncio.run(client.insert("in.main", {}))
        asyncio.run_coroutine_threadsafe(client.close(), loop).result(30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
    assert asyncio.run(kinds_in(dsn)) == ["in.thread"]
