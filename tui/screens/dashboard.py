"""The main screen: status line, outage banner, queues, persistent workers, schedules, clients."""

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
from tui.widgets.queues_table import QueuesTable
from tui.widgets.schedules_table import SchedulesTable
from tui.widgets.status_bar import StatusBar
from tui.widgets.throughput import Throughput
from tui.widgets.workers_table import WorkersTable

# Below this many rows the schedules and clients panels share the bottom: the
# one last focused shows, the other folds to its title line (tab reaches it).
SHORT_BELOW = 30

# The panels that share the bottom of a short screen, and their titles.
BOTTOM_PANELS = {"schedules-panel": "Schedules", "clients-panel": "Clients"}


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
        self._bottom = "clients-panel"  # which of BOTTOM_PANELS shows on a short screen

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
        short = self.size.height < SHORT_BELOW
        for panel_id, title in BOTTOM_PANELS.items():
            panel = self.query_one(f"#{panel_id}", Vertical)
            folded = short and panel_id != self._bottom
            panel.set_class(folded, "-folded")
            panel.border_title = f"{title} ▸ tab to show" if folded else title

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

    def selected_worker(self) -> str | None:
        return self.query_one(WorkersTable).selected_key

    def selected_queue(self) -> str | None:
        return self.query_one(QueuesTable).selected_key

    def selected_schedule(self) -> str | None:
        return self.query_one(SchedulesTable).selected_key
