"""The worker screen against a real database and a real running worker: its story, live."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from tests.processes import Workers
from tests.tui.driving import notices, select_row, until
from tui.app import PqwApp
from tui.data.source import AdminSource
from tui.screens.confirm import ConfirmationModal
from tui.screens.dashboard import DashboardScreen
from tui.screens.worker import WorkerScreen
from tui.widgets.config_versions import ConfigVersionsTable
from tui.widgets.log_tail import LogTail
from tui.widgets.runs_table import RunsTable
from tui.widgets.state_view import StateView
from tui.widgets.worker_summary import WorkerSummary
from tui.widgets.workers_table import WorkersTable

SIZE = (120, 36)


def text_of(widget: Any) -> str:
    """What a Static shows, as plain text."""
    return str(widget.render())


def worker_screen(app: PqwApp) -> WorkerScreen | None:
    screen = app.screen
    return screen if isinstance(screen, WorkerScreen) and screen.view.detail else None


async def test_the_worker_screen_shows_state_runs_configs_and_a_live_log(
    dsn: str, db: Any, workers: Workers
) -> None:
    """The counter (tests/workers/app.py) runs in a worker process of its own, checkpointing
    and logging as it counts; the dashboard shows its story as it happens."""
    workers.spawn(PQW_TEST_COUNTER="1")
    seen: list[Message] = []
    app = PqwApp(AdminSource(dsn), refresh=0.25)
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        table = app.dashboard.query_one(WorkersTable)
        await select_row(pilot, table, "counter")
        await pilot.press("enter")
        await until(pilot, lambda: worker_screen(app) is not None, "the worker screen", 30)
        screen = worker_screen(app)
        assert screen is not None

        summary = screen.query_one(WorkerSummary)
        await until(pilot, lambda: "run 1 on " in text_of(summary), "running", 30)
        assert "config v1" in text_of(summary)
        runs = screen.query_one(RunsTable)
        await until(pilot, lambda: runs.row_count == 1, "the run")
        assert runs.cell_text("1", "how") == "▶ running"
        versions = screen.query_one(ConfigVersionsTable)
        assert versions.cell_text("1", "by") == "code default"
        assert "v1, as first defined" in text_of(screen.query_one("#config-diff"))
        state = screen.query_one(StateView)
        await until(pilot, lambda: '"count"' in text_of(state), "the state")

        # The log follows live: new lines keep arriving on screen.
        tail = screen.query_one(LogTail)
        await until(pilot, lambda: tail.shown >= 3, "log lines", 30)
        shown = tail.shown
        await until(pilot, lambda: tail.shown > shown, "more log lines, live", 30)
        assert tail.following
        await pilot.press("f")
        assert not tail.following and "paused" in str(screen.query_one("#log-panel").border_title)
        await pilot.press("f")
        assert tail.following

        # / searches: only the lines that hold the text.
        await pilot.press("slash", "s", "t", "a", "enter")
        await until(pilot, lambda: tail.search == "sta", "the search")
        assert tail.shown == 1  # pqw's "run 1 started" line
        await pilot.press("slash", "backspace", "backspace", "backspace", "enter")
        await until(pilot, lambda: tail.search is None and tail.shown > 1, "every line again")

        # Reset asks first, and is refused while the run is under way.
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmationModal), "the question")
        await pilot.press("y")
        await until(pilot, lambda: any("has a run under way" in n for n in notices(seen)), "no")

        # Stop it from here, then reset: the state panel says there is none.
        await pilot.press("s")
        await until(pilot, lambda: "● stopped" in text_of(summary), "stopped", 30)
        await until(pilot, lambda: runs.cell_text("1", "how") == "■ stopped", "run 1 ended")
        assert await db.fetchval("SELECT state FROM pqw_persistent_state") is not None
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmationModal), "the question")
        await pilot.press("y")
        await until(pilot, lambda: "No state" in text_of(state), "the state gone")
        assert any(n.startswith("State of counter reset") for n in notices(seen))
        assert await db.fetchval("SELECT state FROM pqw_persistent_state") is None

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
        assert app.internal_errors == []
