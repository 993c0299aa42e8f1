"""Start, stop, restart and reconfigure a persistent worker; pause a queue; enable a schedule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from engine.admin import PeriodicInfo, QueueCounts, WorkerInfo
from tui.actions.operator import run_operator_action
from tui.data import pending
from tui.data.feed import ActionFailed
from tui.data.jobs_window import JobFilter
from tui.data.pending import CONCURRENCY, CONFIG, ENABLED, PAUSE, RUN, SCHEDULE, PendingChange
from tui.data.source import AdminCall
from tui.screens.confirm import ConfirmationModal
from tui.screens.prompt import PromptModal
from tui.screens.reconfigure import ReconfigureScreen
from tui.screens.worker import WorkerScreen

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
        """Run the workers table's `action` ("toggle", "restart", "reconfigure", "open")
        on `name`."""
        if action != "open" and self.app.refuse_if_read_only(f"{action.capitalize()} {name}"):
            return
        run: dict[str, Callable[[str], None]] = {
            "toggle": self.toggle_worker,
            "restart": self.restart_worker,
            "reconfigure": self.reconfigure_worker,
            "open": self.open_worker,
        }
        run[action](name)

    def open_worker(self, name: str) -> None:
        """The worker in full: its state, runs, log and config versions (a screen of its own)."""
        screen = self.app.screen
        if not (isinstance(screen, WorkerScreen) and screen.worker_name == name):
            self.app.push_screen(WorkerScreen(name))

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
        if app.refuse_if_read_only(f"Reconfigure {name}"):
            return
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
        if app.refuse_if_read_only(f"Pause or resume {name}"):
            return
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
        if app.refuse_if_read_only(f"Enable or disable {schedule_id}"):
            return
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

    # ------------------------------------------------------------------
    # Live queue concurrency; schedules run now, edited, their runs
    # ------------------------------------------------------------------

    def set_concurrency(self, name: str) -> None:
        app = self.app
        queue = self.find_queue(name)
        if queue is None:
            app.notify(f"No queue named {name!r}", severity="warning", markup=False)
            return
        if app.refuse_if_read_only(f"Set the concurrency of {name}"):
            return

        async def save(text: str) -> tuple[int | None]:
            value = text.strip()
            if value in ("", "code"):
                concurrency = None
            elif value.isdigit():
                concurrency = int(value)
            else:
                raise ActionFailed(f"not a number of slots: {value!r} (empty: each client's own)")
            await app.feed.act(lambda admin: admin.set_queue_concurrency(name, concurrency))
            return (concurrency,)

        def saved(result: tuple[int | None] | None) -> None:
            if result is None:
                return
            change = pending.setting_concurrency(result[0])
            app.pending.queues.begin(name, CONCURRENCY, replace(change, settled_at=app.monotonic()))
            app.repaint()
            app.refresh_now()

        current = "" if queue.concurrency is None else str(queue.concurrency)
        about = (
            f"Jobs of {name} each client runs at once, applied live by every client working "
            "the queue (running jobs finish first when it goes down). Empty: each client's "
            "own concurrency from its code."
        )
        app.push_screen(PromptModal(f"Concurrency of {name}", about, current, save), saved)

    def request_schedule(self, action: str, schedule_id: str) -> None:
        """The schedules table's `action` (toggle, run, edit, runs) on `schedule_id`."""
        run: dict[str, Callable[[str], None]] = {
            "toggle": self.toggle_schedule,
            "run": self.run_schedule_now,
            "edit": self.edit_schedule,
            "runs": self.schedule_runs,
        }
        run[action](schedule_id)

    def run_schedule_now(self, schedule_id: str) -> None:
        app = self.app
        if app.refuse_if_read_only(f"Run {schedule_id} now"):
            return
        if self.find_schedule(schedule_id) is None:
            app.notify(f"No schedule with id {schedule_id!r}", severity="warning", markup=False)
            return
        run_operator_action(
            app,
            f"Run {schedule_id} now",
            lambda admin: admin.run_periodic_now(schedule_id),
            app.pending.schedules,
            schedule_id,
            ENABLED,
            pending.running_now(),
        )

    def edit_schedule(self, schedule_id: str) -> None:
        app = self.app
        schedule = self.find_schedule(schedule_id)
        if schedule is None:
            app.notify(f"No schedule with id {schedule_id!r}", severity="warning", markup=False)
            return
        if app.refuse_if_read_only(f"Edit {schedule_id}"):
            return

        async def save(text: str) -> str:
            return await app.feed.act(lambda admin: admin.set_periodic_schedule(schedule_id, text))

        def saved(described: str | None) -> None:
            if described is None:
                return
            change = pending.rescheduling(described)
            app.pending.schedules.begin(
                schedule_id, SCHEDULE, replace(change, settled_at=app.monotonic())
            )
            app.repaint()
            app.refresh_now()

        about = (
            "every 30s · every 5m · 2h · cron 0 2 * * * · cron 0 2 * * * Europe/Berlin. "
            "Checked as every(...) and cron(...) check it; the next run follows the new "
            "schedule. A client that defines it in code writes its own back when it restarts."
        )
        app.push_screen(
            PromptModal(f"Schedule of {schedule_id}", about, schedule.schedule, save), saved
        )

    def schedule_runs(self, schedule_id: str) -> None:
        schedule = self.find_schedule(schedule_id)
        if schedule is None:
            return
        self.app.open_search(
            JobFilter(
                queue=schedule.queue, kind=schedule.kind, metadata={"periodic_id": schedule_id}
            )
        )
