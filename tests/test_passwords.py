"""A password given in a URL is never shown: not in a log line, an error, the CLI or the dashboard.

The test server trusts local connections, so a URL carrying any password
connects: what is checked is that the password, once given, appears nowhere.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from typing import Any

import asyncpg
import pytest

from engine import Client, DatabaseUnavailable, InvalidDatabaseUrl, Job, PersistentContext
from engine.admin import Admin
from tests.clients import clients_on
from tests.helpers import run_pqw, wait_for
from tests.test_bad_input import database_of, refuse_connections
from tests.tui.driving import until
from tui.app import PqwApp
from tui.data.feed import Reconnecting
from tui.data.source import AdminSource
from tui.widgets.banner import Banner
from tui.widgets.status_bar import StatusBar

PASSWORD = "pw-" + secrets.token_hex(8)


def with_password(dsn: str) -> str:
    """The test URL (postgresql://postgres:@/db?host=...) with PASSWORD as the user's."""
    url, count = re.subn(r"^(postgresql://[^:/@]+):[^@]*@", rf"\1:{PASSWORD}@", dsn)
    assert count == 1, dsn
    return url


async def test_a_password_in_the_url_is_never_shown(
    dsn: str, pg_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = with_password(dsn)
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    # A client that works, logs and rides out an outage.
    async with clients_on(url) as make:
        client: Client = make(queues={"default": 2})

        @client.job("k")
        async def k(job: Job) -> None:
            pass

        @client.persistent("ticker")
        async def ticker(ctx: PersistentContext) -> None:
            while not ctx.stopping:
                await ctx.sleep(0.2)

        await client.start()
        job = (await k.enqueue({})).job
        seen += [str(client.database.describe() if client.database else ""), repr(job)]
        admin = await Admin.connect(url)
        seen.append(admin.database)
        server = await asyncpg.connect(pg_server)
        database = await database_of(dsn)
        try:
            await refuse_connections(server, database, allow=False)
            for _ in range(2):
                with pytest.raises(DatabaseUnavailable) as lost:
                    await admin.list_jobs()
                seen.append(str(lost.value))
                with pytest.raises(DatabaseUnavailable) as refused:
                    await client.insert("k")
                seen.append(str(refused.value))
            await asyncio.sleep(1.0)  # the client's loops meet the outage and log it
        finally:
            await refuse_connections(server, database, allow=True)
            await server.close()
            admin.terminate()
        await wait_for(lambda: _done(client, job.id), message="the job after the outage")

    # Errors that quote the URL.
    for bad in (url.replace("@/", "@127.0.0.1:99999/"), url.replace("@/", "@[::1/")):
        with pytest.raises(InvalidDatabaseUrl) as invalid:
            await Admin.connect(bad)
        seen.append(str(invalid.value))
    with pytest.raises(DatabaseUnavailable) as unreachable:
        await Admin.connect(url.replace("@/", "@127.0.0.1:1/"))
    seen.append(str(unreachable.value))

    # The CLI, working and failing.
    for argv in (
        ["queue", "pause", "mail", "--dsn", url],
        ["migrate", "status", "--dsn", url],
        ["persistent", "list", "--dsn", url],
        ["persistent", "start", "nobody", "--dsn", url],
        ["queue", "pause", "mail", "--dsn", url.replace("@/", "@127.0.0.1:1/")],
    ):
        result = await asyncio.to_thread(run_pqw, *argv)
        seen += [result.stdout, result.stderr]
    assert "queue mail paused" in seen[-10]

    # The dashboard: its status line, and its banner while the database is away.
    app = PqwApp(AdminSource(url), refresh=0.25)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.overview is not None, "the dashboard's data")
        seen.append(_status(app))
        server = await asyncpg.connect(pg_server)
        try:
            await refuse_connections(server, database, allow=False)
            await until(pilot, lambda: isinstance(app.feed.state, Reconnecting), "the outage")
            seen += [_status(app), str(app.dashboard.query_one(Banner).content)]
        finally:
            await refuse_connections(server, database, allow=True)
            await server.close()

    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "cannot connect to Postgres at postgres@" in "\n".join(seen)
    assert any("Database unavailable" in s for s in seen)
    assert logged and PASSWORD not in logged
    leaks = [s for s in seen if PASSWORD in s]
    assert leaks == []


def _status(app: PqwApp) -> str:
    bar = app.dashboard.query_one(StatusBar)
    return " ".join(str(s.content) for s in bar.query("Static"))


async def _done(client: Client, job_id: int) -> bool:
    state: Any = await client.pool.fetchval("SELECT state FROM pqw_job WHERE id = $1", job_id)
    return bool(state == "completed")
