"""Losing the database, getting it back, and a database that was never migrated."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.message import Message
from textual.notifications import Notify

from engine.admin import Admin, migrate_to_latest
from engine.db.pool import connect
from tests.helpers import wait_for
from tests.tui.driving import cell, until
from tests.tui.seed import add_job, add_running_worker
from tui.app import PqwApp
from tui.data.feed import Connected, Reconnecting
from tui.data.source import AdminSource
from tui.screens.dashboard import DashboardScreen
from tui.screens.schema_missing import SchemaMissingScreen
from tui.widgets.banner import Banner
from tui.widgets.queues_table import QueuesTable
from tui.widgets.workers_table import WorkersTable

SIZE = (120, 40)


def notices(seen: list[Message]) -> list[str]:
    return [m.notification.message for m in seen if isinstance(m, Notify)]


async def test_lost_database_shows_a_banner_keeps_the_data_and_reconnects(
    dsn: str, conn: Any, pg_server: str
) -> None:
    await add_running_worker(conn)
    database = await conn.fetchval("SELECT current_database()")
    # A database cannot close its own doors: do it from the server's postgres database.
    server = await connect(pg_server)
    seen: list[Message] = []
    app = PqwApp(AdminSource(dsn), refresh=0.25)
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        workers = app.dashboard.query_one(WorkersTable)
        banner = app.dashboard.query_one(Banner)
        await until(pilot, lambda: cell(workers, "feed", "status") == "● running", "data")
        assert not banner.display

        # Cut every connection of the dashboard, and keep new ones out for now.
        await server.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            await until(pilot, lambda: banner.display, "the banner")
            assert isinstance(app.feed.state, Reconnecting)
            await until(pilot, lambda: "attempt 2" in str(banner.content), "a second attempt")
            text = str(banner.content)
            assert "Database unavailable" in text and "Showing data as of" in text
            assert cell(workers, "feed", "status") == "● running"  # the last data stays
            await add_job(conn, "after-outage")
        finally:
            await server.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
            await server.close()

        await until(pilot, lambda: not banner.display, "the banner to go", timeout=20)
        assert isinstance(app.feed.state, Connected)
        queues = app.dashboard.query_one(QueuesTable)
        await until(pilot, lambda: cell(queues, "after-outage", "available") == "1", "new data")
        assert any(n.startswith("Reconnected to") for n in notices(seen))
        assert app.internal_errors == []
        assert "password" not in " ".join(notices(seen)).lower()


async def test_unmigrated_database_says_to_run_migrate_and_recovers(bare_dsn: str) -> None:
    app = PqwApp(AdminSource(bare_dsn), refresh=0.25)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, SchemaMissingScreen), "the screen")
        text = str(app.screen.query_one("#schema-missing").content)
        assert "pqw migrate up" in text
        assert "no pqw schema" in text
        await pilot.press("question_mark")  # help over it closes with it

        await migrate_to_latest(bare_dsn)
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
        await until(pilot, lambda: app.overview is not None, "data")


async def test_unreachable_database_at_start_retries_without_crashing() -> None:
    app = PqwApp(AdminSource("postgresql://nobody@127.0.0.1:1/none"), refresh=0.25)
    async with app.run_test(size=SIZE) as pilot:
        banner = app.dashboard.query_one(Banner)
        await until(pilot, lambda: banner.display, "the banner")
        assert "No data yet" in str(banner.content)
        assert app.is_running


async def test_a_failed_poll_leaves_an_action_in_flight_alone(dsn: str) -> None:
    """A poll that fails (a slow overview, one lost connection) drops the dashboard's
    pool, but an operator's action in the middle of its transaction on another
    connection finishes; the old pool closes once that connection is back."""
    source = AdminSource(dsn)
    admin = await source.open()
    assert isinstance(admin, Admin)
    try:
        async with admin.pool.acquire() as conn, conn.transaction():
            await conn.execute("CREATE TABLE in_flight (n int)")
            await source.reset()  # what Feed.poll does after a failed overview
            assert await source.open() is not admin  # the next call gets a fresh pool
            await conn.execute("INSERT INTO in_flight VALUES (1)")
        await wait_for(admin.pool.is_closing, timeout=10, message="the old pool to close")
        fresh = await source.open()
        assert await fresh.pool.fetchval("SELECT count(*) FROM in_flight") == 1
    finally:
        await source.close()


async def test_calls_that_find_no_pool_at_once_share_the_one_they_open(dsn: str, conn: Any) -> None:
    """The poll and an action both meeting a closed source open one pool between
    them, not one each (the second would be overwritten and never closed)."""
    source = AdminSource(dsn)
    try:
        first, second = await asyncio.gather(source.open(), source.open())
        assert first is second
        sessions = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'pqw-tui'"
        )
        assert sessions == 1  # the pool's min_size, once
    finally:
        await source.close()
