"""The main screen: status line, outage banner, queues, persistent workers, clients."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer

from engine.models import Overview
from tui.guard import guarded
from tui.palette import Palette
from tui.widgets.banner import Banner
from tui.widgets.clients_table import ClientsTable
from tui.widgets.queues_table import QueuesTable
from tui.widgets.status_bar import StatusBar, StatusLine
from tui.widgets.throughput import Throughput
from tui.widgets.workers_table import WorkersTable


@dataclass(frozen=True)
class DashboardData:
    """What the tables show: the last overview, the display clock, unconfirmed changes."""

    overview: Overview
    now: datetime
    worker_changes: Mapping[tuple[str, str], str]
    queue_changes: Mapping[tuple[str, str], str]


class DashboardScreen(Screen[None]):
    # Persistent workers are what an operator comes for: the cursor starts there.
    AUTO_FOCUS = "#workers"

    def __init__(self) -> None:
        super().__init__(id="dashboard")
        self._data: DashboardData | None = None
        self._status: tuple[StatusLine, float] | None = None
        self._dirty = False
        self._ready = False

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
        with Vertical(id="clients-panel", classes="panel") as panel:
            panel.border_title = "Clients"
            yield ClientsTable(id="clients")
        yield Footer()

    @property
    def palette(self) -> Palette:
        return Palette.from_theme(self.app.theme_variables)

    def on_mount(self) -> None:
        self._ready = True
        self._paint_status()
        self._paint()

    def show_status(self, line: StatusLine, monotonic_now: float) -> None:
        self._status = (line, monotonic_now)
        self._paint_status()

    @guarded
    def _paint_status(self) -> None:
        if not self._ready or self._status is None:
            return
        line, monotonic_now = self._status
        self.query_one(StatusBar).show(line, self.palette)
        as_of = line.overview.now if line.overview is not None else None
        self.query_one(Banner).show(line.state, monotonic_now, as_of)

    def show_data(self, data: DashboardData) -> None:
        """Repaint the tables now, or when this screen is back on top (a modal is open)."""
        self._data = data
        if self.is_current:
            self._paint()
        else:
            self._dirty = True

    def on_screen_resume(self) -> None:
        if self._dirty:
            self._paint()

    @guarded
    def _paint(self) -> None:
        data = self._data
        if data is None or not self._ready:
            return
        self._dirty = False
        palette = self.palette
        with self.app.batch_update():
            self.query_one(QueuesTable).show(data.overview.queues, data.queue_changes, palette)
            self.query_one(Throughput).show(data.overview.throughput)
            self.query_one(WorkersTable).show(
                data.overview.workers, data.now, data.worker_changes, palette
            )
            self.query_one(ClientsTable).show(data.overview.clients, data.now, palette)

    def selected_worker(self) -> str | None:
        return self.query_one(WorkersTable).selected_key

    def selected_queue(self) -> str | None:
        return self.query_one(QueuesTable).selected_key
