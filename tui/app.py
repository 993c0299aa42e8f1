"""pqw-tui: the live dashboard of a pqw cluster, and its `main`."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from engine.admin import Job, Overview, PeriodicInfo, QueueCounts, WorkerInfo
from tui.commands import DashboardCommands
from tui.data import pending
from tui.data.clock import DisplayClock
from tui.data.feed import (
    ActionFailed,
    Connected,
    ConnectionChanged,
    Feed,
    NotMigrated,
    OverviewFetched,
    Reconnecting,
)
from tui.data.jobs_window import JobFilter
from tui.data.pending import CONFIG, ENABLED, RUN, PendingChange, PendingChanges
from tui.data.poller import Poller
from tui.data.refresh import RefreshRate, seconds_label
from tui.data.source import AdminCall, AdminSource, Connector
from tui.dev.demo import DemoProcess
from tui.guard import guarded
from tui.job_actions import JobActions
from tui.keys import help_sections
from tui.launch import StartupError, parse_options, prepare
from tui.screens.dashboard import DashboardData, DashboardScreen
from tui.screens.help import HelpScreen
from tui.screens.job import JobScreen
from tui.screens.jobs import JobsScreen
from tui.screens.live import LiveScreen
from tui.screens.reconfigure import ReconfigureScreen
from tui.screens.schema_missing import SchemaMissingScreen
from tui.themes import DEFAULT_THEME, register_themes
from tui.widgets.queues_table import PAUSE, QueuesTable
from tui.widgets.schedules_table import SchedulesTable
from tui.widgets.status_bar import StatusLine
from tui.widgets.workers_table import WorkersTable

# How often ages, staleness and the retry countdown are redrawn between refreshes.
TICK_SECONDS = 1.0


class PqwApp(App[int]):
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
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        register_themes(self)
        self.connector = connector
        self.feed = Feed(connector, self.post_message, monotonic=monotonic)
        self.rate = RefreshRate(refresh)
        self.clock = DisplayClock(frozen=frozen_now, monotonic=monotonic)
        self.demo = demo
        self.overview: Overview | None = None
        self.worker_changes: PendingChanges[WorkerInfo] = PendingChanges()
        self.queue_changes: PendingChanges[QueueCounts] = PendingChanges()
        self.schedule_changes: PendingChanges[PeriodicInfo] = PendingChanges()
        self.job_changes: PendingChanges[Job] = PendingChanges()
        self.job_actions = JobActions(self)
        self._monotonic = monotonic
        self._dashboard: DashboardScreen | None = None
        self.last_status: tuple[StatusLine, float] | None = None
        self.poller = Poller(self, self.feed.poll, self._poll_interval, "poll")
        self._demo_exit_reported = False
        self.internal_errors: list[Exception] = []
        self.theme = theme

    def report_internal_error(self, exc: Exception) -> None:
        """A bug caught by @guarded: kept for tests, told once on screen."""
        self.internal_errors.append(exc)
        if len(self.internal_errors) == 1:
            self.notify(
                f"{type(exc).__name__}: {exc}",
                title="Internal error (the dashboard keeps running)",
                severity="error",
                markup=False,
            )

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
            self._paint()
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
            self._live_screens_read()

    def _live_screens_read(self) -> None:
        # Only the screen on top reads; the others read when they are back.
        screen = self.screen
        if isinstance(screen, JobsScreen | JobScreen):
            screen.poller.resume()

    def monotonic(self) -> float:
        """The app's local clock (time.monotonic unless a test gives another)."""
        return self._monotonic()

    def display_now(self) -> datetime:
        """The time ages are measured against: database time when known."""
        now = self.clock.now()
        if now is not None:
            return now
        return self.overview.now if self.overview is not None else datetime.now(UTC)

    @guarded
    def on_overview_fetched(self, message: OverviewFetched) -> None:
        overview = message.overview
        self.overview = overview
        self.clock.anchor(overview.now, message.started_at)
        now = self._monotonic()
        self.worker_changes.confirm({w.name: w for w in overview.workers}, message.started_at, now)
        self.queue_changes.confirm({q.queue: q for q in overview.queues}, message.started_at, now)
        self.schedule_changes.confirm({p.id: p for p in overview.periodic}, message.started_at, now)
        self._paint()
        self._show_status()

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
        self._paint()
        self._show_status()
        self._check_demo()

    def _paint(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, JobsScreen | JobScreen):
                screen.repaint()
        if self.overview is None:
            return
        self.dashboard.show_data(
            DashboardData(
                self.overview,
                self.display_now(),
                self.worker_changes.labels(),
                self.queue_changes.labels(),
                self.schedule_changes.labels(),
            )
        )

    def _show_status(self) -> None:
        line = StatusLine(
            database=self.connector.database,
            state=self.feed.state,
            overview=self.overview,
            refresh=self.rate.label,
            paused=self.rate.paused,
            demo=self.demo is not None,
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

    # ------------------------------------------------------------------
    # Operator actions
    # ------------------------------------------------------------------

    def find_worker(self, name: str) -> WorkerInfo | None:
        workers = self.overview.workers if self.overview else []
        return next((w for w in workers if w.name == name), None)

    def find_queue(self, name: str) -> QueueCounts | None:
        queues = self.overview.queues if self.overview else []
        return next((q for q in queues if q.queue == name), None)

    @guarded
    def on_workers_table_action_requested(self, message: WorkersTable.ActionRequested) -> None:
        {
            "toggle": self.toggle_worker,
            "restart": self.restart_worker,
            "reconfigure": self.reconfigure_worker,
        }[message.action](message.worker)

    @guarded
    def on_queues_table_action_requested(self, message: QueuesTable.ActionRequested) -> None:
        if message.action == "jobs":
            self.open_jobs(message.queue)
        else:
            self.toggle_queue(message.queue)

    @guarded
    def on_schedules_table_action_requested(self, message: SchedulesTable.ActionRequested) -> None:
        self.toggle_schedule(message.schedule_id)

    def run_operator_action(
        self,
        what: str,
        action: AdminCall[object],
        changes: PendingChanges[Any],
        key: str,
        aspect: str,
        change: PendingChange[Any],
    ) -> None:
        """Show `change` at once, run `action` off the UI, then wait for a refresh to confirm.

        A refusal (the engine's one-line reason) is a notification; the row goes
        back to what the database says.
        """
        changes.begin(key, aspect, change)
        self._paint()

        async def run() -> None:
            try:
                await self.feed.act(action)
            except ActionFailed as exc:
                changes.drop(key, aspect)
                self.notify(str(exc), title=f"{what} failed", severity="error", markup=False)
                self._paint()
                return
            changes.settle(key, aspect, self._monotonic())
            self.refresh_now()

        self.run_worker(run(), name=what, group="actions", exit_on_error=False)

    def wants_enabled(self, worker: WorkerInfo) -> bool:
        """Whether the worker is (or is about to be) enabled, counting an unconfirmed change."""
        change = self.worker_changes.changes.get((worker.name, RUN))
        if change is not None and change.target is not None:
            return change.target
        return worker.enabled

    def toggle_worker(self, name: str) -> None:
        worker = self.find_worker(name)
        if worker is None:
            self.notify(f"No persistent worker named {name!r}", severity="warning", markup=False)
        elif self.wants_enabled(worker):
            self.stop_worker(name)
        else:
            self.start_worker(name)

    def stop_worker(self, name: str) -> None:
        self.run_operator_action(
            f"Stop {name}",
            lambda admin: admin.stop_worker(name),
            self.worker_changes,
            name,
            RUN,
            pending.stopping(),
        )

    def start_worker(self, name: str) -> None:
        self.run_operator_action(
            f"Start {name}",
            lambda admin: admin.start_worker(name),
            self.worker_changes,
            name,
            RUN,
            pending.starting(),
        )

    def restart_worker(self, name: str) -> None:
        worker = self.find_worker(name)
        if worker is None:
            self.notify(f"No persistent worker named {name!r}", severity="warning", markup=False)
            return
        self.run_operator_action(
            f"Restart {name}",
            lambda admin: admin.restart_worker(name),
            self.worker_changes,
            name,
            RUN,
            pending.restarting(),
        )

    def reconfigure_worker(self, name: str) -> None:
        worker = self.find_worker(name)
        if worker is None:
            self.notify(f"No persistent worker named {name!r}", severity="warning", markup=False)
            return

        async def save(config: dict[str, Any]) -> int:
            return await self.feed.act(lambda admin: admin.set_worker_config(name, config))

        def saved(version: int | None) -> None:
            if version is None:
                return
            change = pending.reconfiguring(worker.config_version, version)
            self.worker_changes.begin(name, CONFIG, replace(change, settled_at=self._monotonic()))
            self._paint()
            self.refresh_now()

        self.push_screen(ReconfigureScreen(worker, save), saved)

    def toggle_queue(self, name: str) -> None:
        queue = self.find_queue(name)
        if queue is None:
            self.notify(f"No queue named {name!r}", severity="warning", markup=False)
            return
        change = self.queue_changes.changes.get((name, PAUSE))
        paused = change.target if change is not None and change.target is not None else queue.paused
        if paused:
            self.run_operator_action(
                f"Resume {name}",
                lambda admin: admin.resume_queue(name),
                self.queue_changes,
                name,
                PAUSE,
                pending.resuming(),
            )
        else:
            self.run_operator_action(
                f"Pause {name}",
                lambda admin: admin.pause_queue(name),
                self.queue_changes,
                name,
                PAUSE,
                pending.pausing(),
            )

    def find_schedule(self, schedule_id: str) -> PeriodicInfo | None:
        schedules = self.overview.periodic if self.overview else []
        return next((p for p in schedules if p.id == schedule_id), None)

    def schedule_wants_enabled(self, schedule: PeriodicInfo) -> bool:
        """Whether the schedule is (or is about to be) enabled, counting an unconfirmed change."""
        change = self.schedule_changes.changes.get((schedule.id, ENABLED))
        if change is not None and change.target is not None:
            return change.target
        return schedule.enabled

    def toggle_schedule(self, schedule_id: str) -> None:
        schedule = self.find_schedule(schedule_id)
        if schedule is None:
            self.notify(f"No schedule with id {schedule_id!r}", severity="warning", markup=False)
        elif self.schedule_wants_enabled(schedule):
            self.run_operator_action(
                f"Disable {schedule_id}",
                lambda admin: admin.disable_periodic(schedule_id),
                self.schedule_changes,
                schedule_id,
                ENABLED,
                pending.disabling(),
            )
        else:
            self.run_operator_action(
                f"Enable {schedule_id}",
                lambda admin: admin.enable_periodic(schedule_id),
                self.schedule_changes,
                schedule_id,
                ENABLED,
                pending.enabling(),
            )

    def open_jobs(self, queue: str) -> None:
        """Drill into a queue: its jobs, newest first (the jobs screen open already switches)."""
        if isinstance(self.screen, JobsScreen):
            self.screen.set_filter(JobFilter(queue=queue))
        else:
            self.push_screen(JobsScreen(JobFilter(queue=queue)))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the dashboard; 1 with one line on stderr when it cannot start."""
    options = parse_options(argv)
    try:
        launch = prepare(options)
    except StartupError as exc:
        print(f"pqw-tui: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    try:
        app = PqwApp(
            AdminSource(launch.dsn),
            refresh=options.refresh,
            theme=options.theme,
            demo=launch.demo,
        )
        app.run()
        return app.return_code or 0
    finally:
        launch.close()


if __name__ == "__main__":
    sys.exit(main())
