"""The schedules panel: enable and disable a periodic schedule, against a real database."""

from __future__ import annotations

from typing import Any

from textual.command import CommandList, CommandPalette

from tests.helpers import wait_for
from tests.tui.driving import cell, select_row, until
from tests.tui.seed import add_periodic
from tui.app import PqwApp
from tui.data.source import AdminSource
from tui.dev.sample import SampleSource
from tui.dev.sample_cluster import SAMPLE_NOW
from tui.screens.dashboard import DashboardScreen
from tui.widgets.clients_table import ClientsTable
from tui.widgets.schedules_table import SchedulesTable


async def _enabled(conn: Any, schedule_id: str) -> bool:
    return bool(
        await conn.fetchval("SELECT enabled FROM pqw_periodic_job WHERE id = $1", schedule_id)
    )


async def test_toggle_disables_then_enables_a_schedule(dsn: str, conn: Any) -> None:
    await add_periodic(conn, "report.build")
    app = PqwApp(AdminSource(dsn), refresh=0.25)
    async with app.run_test(size=(120, 40)) as pilot:
        schedules = app.dashboard.query_one(SchedulesTable)
        await select_row(pilot, schedules, "report.build")
        assert cell(schedules, "report.build", "enabled") == "● on"
        assert cell(schedules, "report.build", "next").startswith("in ")

        # Paused: nothing but the action can change the row, so it shows pending.
        await pilot.press("p", "e")
        assert cell(schedules, "report.build", "enabled") == "disabling…"

        async def disabled() -> bool:
            return not await _enabled(conn, "report.build")

        await wait_for(disabled, message="pqw_periodic_job.enabled = false")
        await pilot.press("p")
        await until(pilot, lambda: cell(schedules, "report.build", "enabled") == "○ off", "off")
        assert cell(schedules, "report.build", "next") == "—"

        await pilot.press("space")
        await wait_for(lambda: _enabled(conn, "report.build"), message="enabled = true again")
        await until(pilot, lambda: cell(schedules, "report.build", "enabled") == "● on", "on")

        # The palette lists it by name, with what it would do now.
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"disable sch")

        def listed() -> bool:
            commands = app.screen.query_one(CommandList)
            first = commands.get_option_at_index(0) if commands.option_count else None
            return first is not None and "Disable schedule report.build" in str(first.prompt)

        await until(pilot, listed, "the command listed")
        await pilot.press("enter")
        await wait_for(disabled, message="disabled from the palette")
        assert app.internal_errors == []


async def test_a_short_screen_folds_the_bottom_panels_that_do_not_fit_but_the_focused_one() -> None:
    app = PqwApp(SampleSource(), frozen_now=SAMPLE_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.overview is not None, "the first overview")
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        schedules = screen.query_one("#schedules-panel")
        clients = screen.query_one("#clients-panel")
        await until(pilot, lambda: clients.has_class("-folded"), "clients folded")
        assert clients.outer_size.height == 1

        while not screen.query_one(ClientsTable).has_focus:
            await pilot.press("tab")
        await until(pilot, lambda: not clients.has_class("-folded"), "clients unfolded")
        assert schedules.has_class("-folded")
        assert clients.outer_size.height > 3

        await pilot.press("shift+tab")  # clients → schedules
        assert screen.query_one(SchedulesTable).has_focus
        await until(pilot, lambda: not schedules.has_class("-folded"), "schedules unfolded")

        await pilot.resize_terminal(120, 50)
        await until(pilot, lambda: not clients.has_class("-folded"), "room for every panel")
        assert not schedules.has_class("-folded")
