"""Every operator action, driven with keys against a real database."""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console
from textual.command import CommandList, CommandPalette
from textual.widgets import Static, TextArea

from tests.helpers import wait_for
from tests.tui.driving import cell, select_row, until
from tests.tui.seed import WORKER_SCHEMA, add_job, add_running_worker, worker_row
from tui.app import PqwApp
from tui.data.source import AdminSource
from tui.screens.dashboard import DashboardScreen
from tui.screens.help import HelpScreen
from tui.screens.reconfigure import ReconfigureScreen
from tui.widgets.queues_table import QueuesTable
from tui.widgets.status_bar import StatusBar
from tui.widgets.workers_table import WorkersTable

SIZE = (120, 40)


def dashboard_app(dsn: str, refresh: float = 0.25) -> PqwApp:
    return PqwApp(AdminSource(dsn), refresh=refresh)


def plain_text(renderable: Any) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def status_text(app: PqwApp) -> str:
    bar = app.dashboard.query_one(StatusBar)
    return " ".join(str(s.content) for s in bar.query("Static"))


async def test_toggle_stops_then_starts_a_worker(dsn: str, conn: Any) -> None:
    await add_running_worker(conn)
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        workers = app.dashboard.query_one(WorkersTable)
        await select_row(pilot, workers, "feed")
        await until(pilot, lambda: cell(workers, "feed", "status") == "● running", "running")

        # Refresh paused: nothing can confirm the change, so the row must show it pending.
        await pilot.press("p")
        await pilot.press("s")
        assert cell(workers, "feed", "status") == "stopping…"
        await wait_for(
            lambda: _enabled_is(conn, False), message="enabled=false in pqw_persistent_worker"
        )
        assert cell(workers, "feed", "status") == "stopping…"
        await pilot.press("p")
        # The run is still live (no real runner here to end it): the engine says "stopping".
        await until(pilot, lambda: cell(workers, "feed", "status") == "● stopping", "confirmed")

        await pilot.press("p")
        await pilot.press("space")
        assert cell(workers, "feed", "status") == "starting…"
        await wait_for(lambda: _enabled_is(conn, True), message="enabled=true again")
        await pilot.press("p")
        await until(pilot, lambda: cell(workers, "feed", "status") == "● running", "running again")
        assert app.internal_errors == []


async def _enabled_is(conn: Any, enabled: bool) -> bool:
    return bool((await worker_row(conn))["enabled"] is enabled)


async def test_restart_requests_a_new_run(dsn: str, conn: Any) -> None:
    await add_running_worker(conn)
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        workers = app.dashboard.query_one(WorkersTable)
        await select_row(pilot, workers, "feed")
        await pilot.press("p", "r")
        assert cell(workers, "feed", "status") == "restarting…"

        async def requested() -> bool:
            return (await worker_row(conn))["restart_requested_at"] is not None

        await wait_for(requested, message="restart_requested_at set")
        await pilot.press("p")
        # No runner ends the old run here, so the change fades only by its TTL; the
        # request itself is what the database shows.
        assert (await worker_row(conn))["enabled"] is True


async def test_reconfigure_saves_a_valid_config(dsn: str, conn: Any) -> None:
    await add_running_worker(conn, config={"interval": 5}, schema=WORKER_SCHEMA)
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        workers = app.dashboard.query_one(WorkersTable)
        await select_row(pilot, workers, "feed")
        await pilot.press("p", "c")
        await until(pilot, lambda: isinstance(app.screen, ReconfigureScreen), "the modal")
        editor = app.screen.query_one(TextArea)
        assert json.loads(editor.text) == {"interval": 5}
        editor.text = '{"interval": 30, "url": "https://example.com/feed"}'
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the modal closed")

        row = await worker_row(conn)
        assert row["config"] == {"interval": 30, "url": "https://example.com/feed"}
        assert row["config_version"] == 2
        assert cell(workers, "feed", "status") == "config v1→v2…"
        await pilot.press("p")
        await until(pilot, lambda: cell(workers, "feed", "status") == "● running", "confirmed")


async def test_reconfigure_refuses_bad_json_and_bad_config_and_changes_nothing(
    dsn: str, conn: Any
) -> None:
    await add_running_worker(conn, config={"interval": 5}, schema=WORKER_SCHEMA)
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        workers = app.dashboard.query_one(WorkersTable)
        await select_row(pilot, workers, "feed")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ReconfigureScreen), "the modal")
        modal = app.screen
        assert isinstance(modal, ReconfigureScreen)
        editor = modal.query_one(TextArea)

        editor.text = '{"interval": 5,'
        await pilot.press("ctrl+s")
        assert modal.error_text.startswith("invalid JSON at line 1")

        # Typed keys that mean something on the dashboard (q, p, s, ?) go into the editor.
        editor.text = ""
        await pilot.press(*'{"interval": "qps?"}')
        assert editor.text == '{"interval": "qps?"}'
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "expected integer" in modal.error_text, "the engine's refusal")
        assert "config.interval" in modal.error_text
        assert app.screen is modal and app.is_running

        row = await worker_row(conn)
        assert (row["config"], row["config_version"]) == ({"interval": 5}, 1)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the modal closed")
        assert cell(workers, "feed", "status") == "● running"


async def test_pause_and_resume_the_selected_queue(dsn: str, conn: Any) -> None:
    await add_job(conn, "mail")
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        queues = app.dashboard.query_one(QueuesTable)
        await select_row(pilot, queues, "mail")

        async def paused_at() -> Any:
            return await conn.fetchval("SELECT paused_at FROM pqw_queue WHERE name = 'mail'")

        await pilot.press("p", "space")
        assert cell(queues, "mail", "status") == "pausing…"
        await wait_for(paused_at, message="pqw_queue.paused_at set")
        await pilot.press("p")
        await until(pilot, lambda: cell(queues, "mail", "status") == "⏸ paused", "paused")

        await pilot.press("p", "P")
        assert cell(queues, "mail", "status") == "resuming…"

        async def resumed() -> bool:
            return await paused_at() is None

        await wait_for(resumed, message="pqw_queue.paused_at cleared")
        await pilot.press("p")
        await until(pilot, lambda: cell(queues, "mail", "status") == "▶ live", "resumed")


async def test_refresh_pause_and_rate_keys(dsn: str, conn: Any) -> None:
    app = PqwApp(AdminSource(dsn), refresh=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.overview is not None, "the first overview")
        assert "refresh 1s" in status_text(app)
        await pilot.press("plus")
        assert app.rate.seconds == 0.5 and "refresh 0.5s" in status_text(app)
        await pilot.press("minus", "minus", "minus")
        assert app.rate.seconds == 5.0 and "refresh 5s" in status_text(app)
        await pilot.press("equals_sign")
        assert app.rate.seconds == 2.0

        await pilot.press("p")
        assert app.rate.paused and "refresh  paused" in status_text(app)
        await add_job(conn, "fresh")
        await pilot.press("p")
        assert not app.rate.paused
        # Resuming polls at once: the new queue shows without waiting out the 2 s rate.
        queues = app.dashboard.query_one(QueuesTable)
        await until(pilot, lambda: cell(queues, "fresh", "available") == "1", "fresh data", 1.5)


async def test_help_opens_and_closes(dsn: str) -> None:
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = plain_text(app.screen.query_one("#help-keys", Static).content)
        for line in ("Start or stop the selected worker", "Pause or resume the selected queue"):
            assert line in text
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("question_mark", "question_mark")
        assert isinstance(app.screen, DashboardScreen)


async def test_quit(dsn: str) -> None:
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.overview is not None, "the first overview")
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "the app to exit")
    assert app.return_code == 0


async def test_command_palette_runs_worker_actions(dsn: str, conn: Any) -> None:
    await add_running_worker(conn)
    app = dashboard_app(dsn)
    async with app.run_test(size=SIZE) as pilot:
        await until(
            pilot, lambda: app.cluster_actions.find_worker("feed") is not None, "the worker"
        )
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"stop worker feed")

        def listed() -> bool:
            commands = app.screen.query_one(CommandList)
            first = commands.get_option_at_index(0) if commands.option_count else None
            return first is not None and "Stop worker feed" in str(first.prompt)

        await until(pilot, listed, "the command listed")
        await pilot.press("enter")
        await wait_for(lambda: _enabled_is(conn, False), message="stopped from the palette")
