"""Start, stop, restart and reconfigure a persistent worker; pause a queue; enable a schedule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from engine.admin import PeriodicInfo, QueueCounts, WorkerInfo
from tui.actions.operator import run_operator_action
from tui.data import pending
from tui.data.pending import CONFIG, ENABLED, PAUSE, RUN, PendingChange
from tui.data.source import AdminCall
from tui.screens.confirm import ConfirmationModal
from tui.screens.reconfigure import ReconfigureScreen

if TYPE_CHECKING:
    from tui.app import PqwApp


class ClusterActions:
    """The actions on workers, queues and schedules of the tables and the palette, in one place."""

    def __init__(self, app: PqwApp) -> None:
        self.app = app

    # ------------------------------------------------------------------
    # Rows of the last overview
    # ------------------------------------------------------------------

    def find_worker(self, name: str) -> WorkerInfo | None:
        overview = self.app.overview
        workers = overview.workers if overview else []
        return next((w for w in workers if w.name == name), None)

    def find_queue(self, name: str) -> QueueCounts | None:
        overview = self.app.overview
        queues = overview.queues if overview else []
        return next((q for q in queues if q.queue == name), None)

    def find_schedule(self, schedule_id: str) -> PeriodicInfo | None:
        overview = self.app.overview
        schedules = overview.periodic if overview else []
        return next((p for p in schedules if p.id == schedule_id), None)

    def _no_worker(self, name: str) -> None:
        self.app.notify(f"No persistent worker named {name!r}", severity="warning", markup=False)

    # ------------------------------------------------------------------
    # Persistent workers
    # ------------------------------------------------------------------

    def request_worker(self, action: str, name: str) -> None:
        """Run the workers table's `action` ("toggle", "restart", "reconfigure") on `name`."""
        run: dict[str, Callable[[str], None]] = {
            "toggle": self.toggle_worker,
            "restart": self.restart_worker,
            "reconfigure": self.reconfigure_worker,
        }
        run[action](name)

    def toggle_worker(self, name: str) -> None:
        worker = self.find_worker(name)
        if worker is None:
            self._no_worker(name)
        elif self.app.pending.workers.intended(name, RUN, worker.enabled):
            self.stop_worker(name)
        else:
            self.start_worker(name)

    def stop_worker(self, name: str) -> None:
        self._on_worker(
            f"Stop {name}", name, lambda admin: admin.stop_worker(name), pending.stopping()
        )

    def start_worker(self, name: str) -> None:
        self._on_worker(
            f"Start {name}", name, lambda admin: admin.start_worker(name), pending.starting()
        )

    def restart_worker(self, name: str) -> None:
        if self.find_worker(name) is None:
            self._no_worker(name)
            return
        self._on_worker(
            f"Restart {name}", name, lambda admin: admin.restart_worker(name), pending.restarting()
        )

    def _on_worker(
        self, what: str, name: str, call: AdminCall[object], change: PendingChange[WorkerInfo]
    ) -> None:
        run_operator_action(self.app, what, call, self.app.pending.workers, name, RUN, change)

    def delete_worker(self, name: str) -> None:
        """Ask, then remove a worker no live client defines (renamed or deleted in code)."""
        app = self.app
        worker = self.find_worker(name)
        if worker is None:
            self._no_worker(name)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                # Confirmed when a read no longer has the row (a missing row counts as done).
                gone: PendingChange[WorkerInfo] = PendingChange("deleting…", lambda w: False)
                self._on_worker(f"Delete {name}", name, lambda a: a.delete_worker(name), gone)

        question = (
            f"Persistent worker {name}, now {worker.status}, {worker.runs} runs.\n"
            "Its row, config and history go; a run still waiting is cancelled. A client "
            "that still defines it in code would write it back when it starts."
        )
        app.push_screen(
            ConfirmationModal(f"Delete worker {name}?", question, "Delete worker"), answered
        )

    def reconfigure_worker(self, name: str) -> None:
        app = self.app
        worker = self.find_worker(name)
        if worker is None:
            self._no_worker(name)
            return

        async def save(config: dict[str, Any]) -> int:
            return await app.feed.act(lambda admin: admin.set_worker_config(name, config))

        def saved(version: int | None) -> None:
            if version is None:
                return
            change = pending.reconfiguring(worker.config_version, version)
            app.pending.workers.begin(name, CONFIG, replace(change, settled_at=app.monotonic()))
            app.repaint()
            app.refresh_now()

        app.push_screen(ReconfigureScreen(worker, save), saved)

    # ------------------------------------------------------------------
    # Queues and schedules
    # ------------------------------------------------------------------

    def toggle_queue(self, name: str) -> None:
        app = self.app
        queue = self.find_queue(name)
        if queue is None:
            app.notify(f"No queue named {name!r}", severity="warning", markup=False)
        elif app.pending.queues.intended(name, PAUSE, queue.paused):
            run_operator_action(
                app,
                f"Resume {name}",
                lambda admin: admin.resume_queue(name),
                app.pending.queues,
                name,
                PAUSE,
                pending.resuming(),
            )
        else:
            run_operator_action(
                app,
                f"Pause {name}",
                lambda admin: admin.pause_queue(name),
                app.pending.queues,
                name,
                PAUSE,
                pending.pausing(),
            )

    def toggle_schedule(self, schedule_id: str) -> None:
        app = self.app
        schedule = self.find_schedule(schedule_id)
        if schedule is None:
            app.notify(f"No schedule with id {schedule_id!r}", severity="warning", markup=False)
        elif app.pending.schedules.intended(schedule_id, ENABLED, schedule.enabled):
            run_operator_action(
                app,
                f"Disable {schedule_id}",
                lambda admin: admin.disable_periodic(schedule_id),
                app.pending.schedules,
                schedule_id,
                ENABLED,
                pending.disabling(),
            )
        else:
            run_operator_action(
                app,
                f"Enable {schedule_id}",
                lambda admin: admin.enable_periodic(schedule_id),
                app.pending.schedules,
                schedule_id,
                ENABLED,
                pending.enabling(),
            )
