"""pqw-tui: the live dashboard of a pqw cluster, and its `main`."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from engine.admin import Overview
from tui.actions.cluster import ClusterActions
from tui.actions.jobs import JobActions
from tui.commands import DashboardCommands
from tui.data.clock import DisplayClock
from tui.data.feed import (
    Connected,
    ConnectionChanged,
    Feed,
    NotMigrated,
    OverviewFetched,
    Reconnecting,
)
from tui.data.pending import Pending
from tui.data.poller import Poller
from tui.data.refresh import RefreshRate, seconds_label
from tui.data.source import AdminSource, Connector
from tui.dev.demo import DemoProcess
from tui.guard import InternalErrors, guarded
from tui.keys import help_sections
from tui.launch import StartupError, parse_options, prepare
from tui.routes import Routes
from tui.screens.dashboard import DashboardData, DashboardScreen
from tui.screens.help import HelpScreen
from tui.screens.live import LiveScreen
from tui.screens.schema_missing import SchemaMissingScreen
from tui.signals import StartUpInterrupted, exit_on_signals, interrupt_start_up, keep_signals
from tui.themes import DEFAULT_THEME, register_themes
from tui.toasts import install as install_toast_fix
from tui.widgets.status_bar import StatusLine

# How often ages, staleness and the retry countdown are redrawn between refreshes.
TICK_SECONDS = 1.0

install_toast_fix()


class PqwApp(Routes, App[int]):
    """The dashboard. `connector` opens the engine's Admin (AdminSource); tests and
    screenshots pass the sample cluster, with `frozen_now` pinning the display clock."""

    CSS_PATH = "pqw.tcss"
    COMMANDS = App.COMMANDS | {DashboardCommands}
    TITLE = "pqw"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", tooltip="Quit (and stop the demo workers, if any)"),
        Binding("p", "toggle_refresh", "Pause", tooltip="Pause or resume refreshing"),
        Binding(
            "plus,equals_sign",
            "refresh_faster",
            "Faster",
            key_display="+",
            tooltip="Refresh more often",
        ),
        Binding("minus", "refresh_slower", "Slower", key_display="-", tooltip="Refresh less often"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="This list of keys"),
    ]

    def __init__(
        self,
        connector: Connector,
        *,
        refresh: float = 1.0,
        theme: str = DEFAULT_THEME,
        frozen_now: datetime | None = None,
        demo: DemoProcess | None = None,
        read_only: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
        quit_on_signals: bool = False,
    ) -> None:
        super().__init__()
        register_themes(self)
        self.connector = connector
        self.feed = Feed(connector, self.post_message, monotonic=monotonic)
        self.rate = RefreshRate(refresh)
        self.clock = DisplayClock(frozen=frozen_now, monotonic=monotonic)
        self.demo = demo
        self.overview: Overview | None = None
        self.pending = Pending()
        self.cluster_actions = ClusterActions(self)
        self.job_actions = JobActions(self)
        self._monotonic = monotonic
        self._dashboard: DashboardScreen | None = None
        self.last_status: tuple[StatusLine, float] | None = None
        self.poller = Poller(self, self.feed.poll, self._poll_interval, "poll")
        self._demo_exit_reported = False
        self.bugs = InternalErrors(self.notify)
        self.internal_errors = self.bugs.recent  # the last few, for tests
        # Every action hidden and refused: asked for (--read-only), or found (a role
        # without write grants, learnt once connected).
        self.read_only = read_only
        self._grants_checked = read_only
        self.theme = theme
        # The real pqw-tui only: a test's app must not take over pytest's signals.
        self._quit_on_signals = quit_on_signals

    def report_internal_error(self, exc: Exception) -> None:
        """A bug caught by @guarded: counted on the status line, each new kind told once."""
        self.bugs.report(exc)

    # ------------------------------------------------------------------
    # Screens
    # ------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        return self.dashboard

    @property
    def dashboard(self) -> DashboardScreen:
        if self._dashboard is None:
            self._dashboard = DashboardScreen()
        return self._dashboard

    def on_mount(self) -> None:
        if self._quit_on_signals:
            exit_on_signals(self)
        self.set_interval(TICK_SECONDS, self._tick, name="display-tick")
        self.poller.now()
        self._show_status()
        if self.demo is not None:
            self.notify(
                f"Demo workers running in processes {', '.join(map(str, self.demo.pids))}; "
                f"log: {self.demo.log_path}",
                title="Demo",
                markup=False,
            )

    async def on_unmount(self) -> None:
        await self.feed.close()

    @guarded
    def watch_theme(self) -> None:
        # Cell colours come from the theme; repaint them in the new one.
        if self._dashboard is not None and self._dashboard.is_mounted:
            self.repaint()
            self._show_status()

    # ------------------------------------------------------------------
    # Polling
    # ------------------------------------------------------------------

    def _poll_interval(self) -> float | None:
        # Pausing holds the data still; it does not stop reconnecting, so a
        # paused dashboard still learns that the database is back.
        if self.rate.paused and isinstance(self.feed.state, Connected):
            return None
        return self.rate.seconds

    def refresh_now(self) -> None:
        """Poll at once (unless paused): after an action, to confirm it quickly."""
        if not self.rate.paused:
            self.poller.now()
            # Only the screen on top reads; the others read when they are back.
            poller = getattr(self.screen, "poller", None)  # a screen that reads its own data
            if isinstance(poller, Poller):
                poller.resume()

    def monotonic(self) -> float:
        """The app's local clock (time.monotonic unless a test gives another)."""
        return self._monotonic()

    def display_now(self) -> datetime:
        """The time ages are measured against: database time once an overview has been read."""
        # The first overview anchors the clock, so only before it is local time used.
        return self.clock.now() or datetime.now(UTC)

    @guarded
    def on_overview_fetched(self, message: OverviewFetched) -> None:
        overview = message.overview
        self.overview = overview
        self.clock.anchor(overview.now, message.started_at)
        self.pending.confirm_overview(overview, message.started_at, self._monotonic())
        self.repaint()
        self._show_status()
        if not self._grants_checked:
            self._grants_checked = True
            self.run_worker(self._check_grants(), name="grants", exit_on_error=False)

    @guarded
    def on_connection_changed(self, message: ConnectionChanged) -> None:
        state, previous = message.state, message.previous
        if isinstance(state, NotMigrated):
            if not isinstance(self.screen, SchemaMissingScreen):
                self.push_screen(SchemaMissingScreen(self.connector.database, state.reason))
        elif any(isinstance(s, SchemaMissingScreen) for s in self.screen_stack):
            # Anything opened over it (help, the palette) goes with it.
            while not isinstance(self.screen, SchemaMissingScreen):
                self.pop_screen()
            self.pop_screen()
        if isinstance(state, Connected) and isinstance(previous, Reconnecting):
            self.notify(f"Reconnected to {self.connector.database}", title="Database", markup=False)
        if isinstance(state, Reconnecting) and not isinstance(previous, Reconnecting):
            self.notify(state.reason, title="Database unavailable", severity="error", markup=False)
        self._sync_clock()
        self._show_status()

    def _sync_clock(self) -> None:
        if isinstance(self.feed.state, Connected) and not self.rate.paused:
            self.clock.run()
        else:
            self.clock.stop()

    # ------------------------------------------------------------------
    # Painting
    # ------------------------------------------------------------------

    @guarded
    def _tick(self) -> None:
        if not self.is_running:
            return  # shutting down: the screens' widgets are already going
        self.repaint()
        self._show_status()
        self._check_demo()

    def repaint(self) -> None:
        """Redraw every screen's data from the last reads and the pending changes."""
        for screen in self.screen_stack:
            if isinstance(screen, LiveScreen) and screen is not self._dashboard:
                screen.repaint()
        if self.overview is None:
            return
        self.dashboard.show_data(
            DashboardData(
                self.overview,
                self.display_now(),
                self.pending.workers.labels(),
                self.pending.queues.labels(),
                self.pending.schedules.labels(),
            )
        )

    def show_status(self) -> None:
        """Redraw the status line of every screen (the read-only mode changed)."""
        self._show_status()

    def _show_status(self) -> None:
        line = StatusLine(
            database=self.connector.database,
            state=self.feed.state,
            overview=self.overview,
            refresh=self.rate.label,
            paused=self.rate.paused,
            demo=self.demo is not None,
            read_only=self.read_only,
            internal_errors=self.bugs.count,
        )
        now = self._monotonic()
        self.last_status = (line, now)
        self.dashboard.show_status(line, now)
        for screen in self.screen_stack:
            if isinstance(screen, LiveScreen) and screen is not self._dashboard:
                screen.show_status(line, now)

    def _check_demo(self) -> None:
        if self.demo is None or self._demo_exit_reported:
            return
        code = self.demo.exit_code
        if code is not None:
            self._demo_exit_reported = True
            self.notify(
                f"A demo worker process exited with code {code}; see {self.demo.log_path}",
                title="Demo",
                severity="error",
                timeout=30,
                markup=False,
            )

    # ------------------------------------------------------------------
    # Refresh keys
    # ------------------------------------------------------------------

    def action_toggle_refresh(self) -> None:
        self.rate = self.rate.toggled()
        self._sync_clock()
        self.refresh_now()
        self._show_status()

    def _set_rate(self, rate: RefreshRate) -> None:
        if rate == self.rate:
            self.notify(f"Refresh stays every {seconds_label(rate.seconds)}", timeout=2)
            return
        self.rate = rate
        if not rate.paused and isinstance(self.feed.state, Connected):
            self.poller.next_in(rate.seconds)
        self._show_status()

    def action_refresh_faster(self) -> None:
        self._set_rate(self.rate.faster())

    def action_refresh_slower(self) -> None:
        self._set_rate(self.rate.slower())

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(help_sections(self.BINDINGS, self.get_key_display)))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the dashboard; 1 with one line on stderr when it cannot start."""
    options = parse_options(argv)
    interrupt_start_up()
    try:
        launch = prepare(options)
    except StartupError as exc:
        print(f"pqw-tui: error: {exc}", file=sys.stderr)
        return 1
    except StartUpInterrupted as exc:
        return 128 + exc.number
    except KeyboardInterrupt:
        return 130
    keep_signals()
    try:
        app = PqwApp(
            AdminSource(launch.dsn, direct_dsn=launch.direct_dsn, pool_mode=launch.pool_mode),
            refresh=options.refresh,
            theme=options.theme,
            demo=launch.demo,
            read_only=options.read_only,
            quit_on_signals=True,
        )
        app.run()
        return app.return_code or 0
    finally:
        launch.close()


if __name__ == "__main__":
    sys.exit(main())
