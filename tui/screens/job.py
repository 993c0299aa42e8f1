"""One job in full (enter on a job): args, metadata, times, every error with its trace; live."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer

from engine.admin import Job
from tui.data.feed import ActionFailed, Missing, backoff_delay
from tui.data.pending import JOB
from tui.data.poller import Poller
from tui.guard import guarded
from tui.screens.live import LiveScreen
from tui.widgets.banner import Banner
from tui.widgets.job_detail import JobDetail
from tui.widgets.status_bar import StatusBar


class JobScreen(LiveScreen):
    AUTO_FOCUS = "#job-panel"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Read-only: the actions that change jobs are hidden (and refused).
        return not (self.pqw.read_only and action in frozenset({"request"}))

    BINDINGS = [
        Binding("x", "request('cancel')", "Cancel", tooltip="Cancel the job (asks first)"),
        Binding("t", "request('retry')", "Retry", tooltip="Run the job again now"),
        Binding("d", "request('delete')", "Delete", tooltip="Delete the job (asks first)"),
        Binding("escape", "back", "Back", tooltip="Back to the list of jobs"),
    ]

    def __init__(self, job: Job) -> None:
        super().__init__(id="job-screen")
        self.job = job
        self.gone = False  # deleted (or cleaned up) since it was opened
        self._failures = 0
        self._error: str | None = None
        self.poller = Poller(self, self._read, self._interval, "job")

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Banner(id="banner")
        with VerticalScroll(id="job-panel", classes="panel"):
            yield JobDetail(id="job-detail")
        yield Footer()

    def mounted(self) -> None:
        self._paint()
        self.poller.now()

    def on_screen_resume(self) -> None:
        if self.gone:
            self.dismiss(None)  # it went while something was open over it
            return
        self.paint_if_dirty()
        self.poller.resume()

    def _interval(self) -> float | None:
        rate = self.pqw.rate
        return None if rate.paused or self.gone else rate.seconds

    async def _read(self) -> float | None:
        app = self.pqw
        job_id = self.job.id
        started = app.monotonic()
        try:
            job = await app.feed.read(lambda admin: admin.get_job(job_id))
        except Missing:
            self._gone(started)
            return None
        except ActionFailed as exc:
            self._failures += 1
            if str(exc) != self._error:
                self.notify(str(exc), title="Job not read", severity="error", markup=False)
            self._error = str(exc)
            self.repaint()
            return backoff_delay(self._failures)
        self._failures, self._error = 0, None
        key = str(job_id)
        app.pending.jobs.confirm({key: job}, started, app.monotonic(), covered={key})
        self.job = job
        self.repaint()
        return None

    def _gone(self, read_started_at: float) -> None:
        """The job is no more (deleted here or elsewhere, or cleaned up): back to the list."""
        self.gone = True
        app = self.pqw
        key = str(self.job.id)
        deleted_here = (key, JOB) in app.pending.jobs.changes
        app.pending.jobs.confirm({}, read_started_at, app.monotonic(), covered={key})
        what = "deleted" if deleted_here else "no longer exists"
        self.notify(f"Job {self.job.id} {what}", title="Job", markup=False)
        if self.is_current:
            self.dismiss(None)

    @guarded
    def _paint(self) -> None:
        if not self._ready:
            return
        self._dirty = False
        app = self.pqw
        change = app.pending.jobs.labels().get((str(self.job.id), JOB))
        self.query_one(JobDetail).show(self.job, app.display_now(), change, self.palette)
        panel = self.query_one("#job-panel", VerticalScroll)
        # Text, never markup: kinds, queues and errors are whatever users made them.
        panel.border_title = Text(f"Job {self.job.id} · {self.job.kind} · {self.job.queue}")
        panel.border_subtitle = Text(
            f"⚠ not refreshed: {self._error}" if self._error else "↑↓ pgup pgdn scroll"
        )

    def action_request(self, action: str) -> None:
        if self.gone:
            self.notify(f"Job {self.job.id} no longer exists", severity="warning", markup=False)
            return
        self.pqw.job_actions.request(action, self.job)

    def action_back(self) -> None:
        self.dismiss(None)
