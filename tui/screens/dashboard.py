"""The main screen: status line, outage banner, queues, persistent workers, long-running jobs,
schedules, clients."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Footer

from engine.admin import Overview
from tui.guard import guarded
from tui.screens.live import LiveScreen
from tui.widgets.banner import Banner
from tui.widgets.clients_table import ClientsTable
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.long_running_table import LongRunningTable
from tui.widgets.queues_table import QueuesTable
from tui.widgets.schedules_table import SchedulesTable
from tui.widgets.status_bar import StatusBar
from tui.widgets.throughput import Throughput
from tui.widgets.workers_table import WorkersTable

# The panels that share the bottom of a short screen, and their titles.
BOTTOM_PANELS = {
    "long-panel": "Long-running jobs",
    "schedules-panel": "Schedules",
    "clients-panel": "Clients",
}
# Which bottom panel folds first when the screen is too short for all of them
# (the one last focused never folds; tab reaches a folded one).
FOLD_ORDER = ("clients-panel", "long-panel", "schedules-panel")


@dataclass(frozen=True)
class DashboardData:
    """What the tables show: the last overview, the display clock, unconfirmed changes."""

    overview: Overview
    now: datetime
    worker_changes: Mapping[tuple[str, str], str]
    queue_changes: Mapping[tuple[str, str], str]
    schedule_changes: Mapping[tuple[str, str], str]


class DashboardScreen(LiveScreen):
    # Persistent workers are what an operator comes for: the cursor starts there.
    AUTO_FOCUS = "#workers"

    def __init__(self) -> None:
        super().__init__(id="dashboard")
        self._data: DashboardData | None = None
        # The bottom panel the operator last focused: it stays open on a short screen.
        self._bottom: str | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Banner(id="banner")
        with Vertical(id="queues-panel", classes="panel") as panel:
            panel.border_title = "Queues"
            yield QueuesTable(id="queues")
            yield Throughput(id="throughput")
        with Vertical(id="workers-panel", classes="panel") as panel:
            panel.border_title = "Persistent workers"
            yield WorkersTable(id="workers")
        with Vertical(id="long-panel", classes="panel") as panel:
            panel.border_title = "Long-running jobs"
            yield LongRunningTable(id="long-running")
        with Vertical(id="schedules-panel", classes="panel") as panel:
            panel.border_title = "Schedules"
            yield SchedulesTable(id="schedules")
        with Vertical(id="clients-panel", classes="panel") as panel:
            panel.border_title = "Clients"
            yield ClientsTable(id="clients")
        yield Footer()

    def mounted(self) -> None:
        self._fold()
        self._paint()

    # ------------------------------------------------------------------
    # A short screen: schedules and clients take turns at the bottom
    # ------------------------------------------------------------------

    def on_resize(self) -> None:
        self._fold()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        panel = event.widget.parent
        if panel is not None and panel.id in BOTTOM_PANELS and panel.id != self._bottom:
            self._bottom = panel.id
            self._fold()

    def on_click(self, event: events.Click) -> None:
        # A folded panel is only its title line: a click there opens it.
        widget = event.widget
        if widget is not None and widget.has_class("-folded"):
            widget.query_one(KeyedTable).focus()

    @guarded
    def _fold(self) -> None:
        """Fold bottom panels to their title line, least useful first, until the screen
        holds the rest without scrolling; the one the operator last focused stays open."""
        height = self.size.height
        if height <= 0:
            return
        queues = self.query_one(QueuesTable)
        workers = self.query_one(WorkersTable)
        banner = 1 if self.query_one(Banner).display else 0
        used = 2 + banner + min(queues.row_count, 10) + 4 + min(workers.row_count, 16) + 3
        panels = {panel_id: self.query_one(f"#{panel_id}", Vertical) for panel_id in BOTTOM_PANELS}
        shown = [p for p, panel in panels.items() if panel.display]

        def wanted(panel_id: str) -> int:
            rows = panels[panel_id].query_one(KeyedTable).row_count
            return min(max(rows, 1), 8) + 3

        folded: set[str] = set()
        for panel_id in FOLD_ORDER:
            if sum(1 if p in folded else wanted(p) for p in shown) <= height - used:
                break
            if panel_id in shown and panel_id != self._bottom:
                folded.add(panel_id)
        # The lowest open panel reaches down to the footer: the screen's spare rows are
        # its own (a longer table shows more rows), not bare rows under the last frame.
        # (With every bottom panel folded, the workers panel: one more worker shows.) Only
        # when everything fits: a panel kept open on a short screen keeps its own height.
        fits = sum(1 if p in folded else wanted(p) for p in shown) <= height - used
        open_panels = [p for p in shown if p not in folded]
        filler = open_panels[-1] if open_panels and fits else None
        self.query_one("#workers-panel", Vertical).set_class(fits and filler is None, "-fill")
        for panel_id, title in BOTTOM_PANELS.items():
            panel = panels[panel_id]
            panel.set_class(panel_id in folded, "-folded")
            panel.set_class(panel_id == filler, "-fill")
            panel.border_title = f"{title} ▸ tab to show" if panel_id in folded else title

    # ------------------------------------------------------------------
    # Painting
    # ------------------------------------------------------------------

    def show_data(self, data: DashboardData) -> None:
        """Repaint the tables now, or when this screen is back on top (a modal is open)."""
        self._data = data
        self.repaint()

    def on_screen_resume(self) -> None:
        self.paint_if_dirty()

    @guarded
    def _paint(self) -> None:
        data = self._data
        if data is None or not self._ready:
            return
        self._dirty = False
        palette = self.palette
        overview = data.overview
        with self.app.batch_update():
            self.query_one(QueuesTable).show(overview.queues, data.queue_changes, palette)
            self.query_one(Throughput).show(overview.throughput)
            self.query_one(WorkersTable).show(
                overview.workers, data.now, data.worker_changes, palette
            )
            self.query_one(SchedulesTable).show(
                overview.periodic, data.now, data.schedule_changes, palette
            )
            self.query_one(ClientsTable).show(overview.clients, data.now, palette)
            # Shown only while some job runs long (a panel of nothing is noise).
            long_panel = self.query_one("#long-panel", Vertical)
            long_panel.display = bool(overview.long_running)
            self.query_one(LongRunningTable).show(overview.long_running, data.now, palette)
        self._fold()

    def selected_worker(self) -> str | None:
        return self.query_one(WorkersTable).selected_key

    def selected_queue(self) -> str | None:
        return self.query_one(QueuesTable).selected_key

    def selected_schedule(self) -> str | None:
        return self.query_one(SchedulesTable).selected_key
