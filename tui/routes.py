"""Where the dashboard's messages lead: the tables' requests to their actions, drilling in,
and the read-only mode (asked for, or found from the role's grants)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from tui.data.feed import ActionFailed
from tui.data.jobs_window import JobFilter
from tui.guard import guarded
from tui.screens.job import JobScreen
from tui.screens.jobs import JobsScreen
from tui.widgets.long_running_table import LongRunningTable
from tui.widgets.queues_table import QueuesTable
from tui.widgets.schedules_table import SchedulesTable
from tui.widgets.workers_table import WorkersTable

if TYPE_CHECKING:
    from tui.app import PqwApp


class Routes:
    """Mixed into PqwApp: its message handlers and the read-only gate."""

    read_only: bool
    _grants_checked: bool

    @property
    def _app(self) -> PqwApp:
        return cast("PqwApp", self)

    async def _check_grants(self) -> None:
        try:
            writable = await self._app.feed.read(lambda admin: admin.can_write())
        except ActionFailed:
            self._grants_checked = False  # asked again after the next overview
            return
        if not writable:
            self.read_only = True
            self._app.notify(
                "This database role may only read: actions are hidden.",
                title="Read-only",
                severity="warning",
                markup=False,
            )
            self._app.refresh_bindings()
            self._app.show_status()

    def refuse_if_read_only(self, what: str) -> bool:
        """True (and a notice) when the dashboard is read-only: `what` does not happen."""
        if self.read_only:
            self._app.notify(
                f"{what}: refused, the dashboard is read-only", severity="warning", markup=False
            )
        return self.read_only

    # ------------------------------------------------------------------
    # Operator actions and drilling in
    # ------------------------------------------------------------------

    @guarded
    def on_workers_table_action_requested(self, message: WorkersTable.ActionRequested) -> None:
        self._app.cluster_actions.request_worker(message.action, message.worker)

    @guarded
    def on_queues_table_action_requested(self, message: QueuesTable.ActionRequested) -> None:
        if message.action == "jobs":
            self.open_jobs(message.queue)
        elif message.action == "concurrency":
            self._app.cluster_actions.set_concurrency(message.queue)
        else:
            self._app.cluster_actions.toggle_queue(message.queue)

    @guarded
    def on_schedules_table_action_requested(self, message: SchedulesTable.ActionRequested) -> None:
        self._app.cluster_actions.request_schedule(message.action, message.schedule_id)

    @guarded
    def on_long_running_table_open(self, message: LongRunningTable.Open) -> None:
        self._app.push_screen(JobScreen(message.info.job))

    def open_search(self, where: JobFilter) -> None:
        """The jobs screen showing `where` (a schedule's runs, the failures)."""
        if isinstance(self._app.screen, JobsScreen):
            self._app.screen.set_filter(where)
        else:
            self._app.push_screen(JobsScreen(where))

    def open_jobs(self, queue: str) -> None:
        """Drill into a queue: its jobs, newest first (the jobs screen open already switches)."""
        if isinstance(self._app.screen, JobsScreen):
            self._app.screen.set_filter(JobFilter(queue=queue))
        else:
            self._app.push_screen(JobsScreen(JobFilter(queue=queue)))
