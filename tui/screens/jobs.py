"""A queue's jobs (k9s-style drill-in): newest first, by state and kind, paged, live."""

from __future__ import annotations

import math
from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Static

from engine.admin import Job, JobState
from tui import formatting as fmt
from tui.data.causes import CAUSES_EVERY, Causes, read_causes
from tui.data.feed import ActionFailed, backoff_delay
from tui.data.jobs_window import PAGE, JobFilter, JobsPage, read_window, window_floor
from tui.data.poller import Poller
from tui.data.search import (
    FAILURES,
    SearchError,
    describe_filter,
    parse_search,
    search_line,
    to_query,
)
from tui.guard import guarded
from tui.screens.job import JobScreen
from tui.screens.live import LiveScreen
from tui.widgets.banner import Banner
from tui.widgets.causes_table import CausesTable
from tui.widgets.filter_bar import STATE_KEYS, FilterBar
from tui.widgets.jobs_table import JobsTable
from tui.widgets.kind_filter import KindFilter
from tui.widgets.status_bar import StatusBar


class JobsScreen(LiveScreen):
    AUTO_FOCUS = "#jobs"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Read-only: the actions that change jobs are hidden (and refused).
        return not (self.pqw.read_only and action in frozenset({"bulk"}))

    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="Back to the dashboard"),
        Binding(
            "slash",
            "filter_kind",
            "Search",
            key_display="/",
            tooltip="Search: kind:email.* args.customer=7 meta.team=ops id:123, or text in args",
        ),
        Binding("f", "failures", "Failures", tooltip="Retryable and discarded jobs of every queue"),
        Binding(
            "X",
            "bulk('cancel')",
            "Cancel all",
            tooltip="Cancel the marked jobs, or all shown by the filter",
        ),
        Binding(
            "T",
            "bulk('retry')",
            "Retry all",
            tooltip="Retry the marked jobs, or all shown by the filter",
        ),
        Binding(
            "D",
            "bulk('delete')",
            "Delete all",
            tooltip="Delete the marked jobs, or all shown by the filter",
        ),
        Binding("m", "more", "More", tooltip="Read the next page of older jobs"),
        Binding("0", "state('all')", "State", key_display="0-7", tooltip="Jobs in every state"),
        *(
            Binding(
                key, f"state('{state.value}')", str(state), show=False, tooltip=f"Only {state} jobs"
            )
            for key, state in STATE_KEYS.items()
            if state is not None
        ),
    ]

    def __init__(self, where: JobFilter) -> None:
        super().__init__(id="jobs-screen")
        self.where = where
        self.page: JobsPage | None = None
        self._paged_to: int | None = None  # the oldest job the operator paged down to
        self._below = 0  # jobs to read under the window: "more" was asked for
        self._generation = 0  # bumped by a new filter; an older read's answer is dropped
        self._failures = 0
        self._error: str | None = None
        self._kinds_seen: set[str] = set()  # offered as completions by the kind prompt
        self.causes: Causes | None = None  # the failures view's groups, read every CAUSES_EVERY
        self._causes_read_at = -math.inf
        self.poller = Poller(self, self._read, self._interval, "jobs")

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Banner(id="banner")
        with Vertical(id="causes-panel", classes="panel"):
            yield CausesTable(id="causes")
        with Vertical(id="jobs-panel", classes="panel"):
            yield FilterBar(self.where, id="filter-bar")
            yield JobsTable(id="jobs")
            yield Static(id="jobs-empty")
        yield KindFilter(id="kind-filter")
        yield Footer()

    @property
    def table(self) -> JobsTable:
        return self.query_one(JobsTable)

    def mounted(self) -> None:
        self.query_one(KindFilter).display = False
        self._paint()
        self.poller.now()

    def on_screen_resume(self) -> None:
        self.paint_if_dirty()
        self.poller.resume()

    def _interval(self) -> float | None:
        rate = self.pqw.rate
        return None if rate.paused else rate.seconds

    # ------------------------------------------------------------------
    # Reading
    # ------------------------------------------------------------------

    async def _list_jobs(self, where: JobFilter, before: int | None, limit: int) -> list[Job]:
        return await self.pqw.feed.read(
            lambda admin: admin.search_jobs(to_query(where), before_id=before, limit=limit)
        )

    async def _read(self) -> float | None:
        app = self.pqw
        where, generation, below = self.where, self._generation, self._below
        # The job under the cursor never leaves the window, however many arrive above it.
        floor = window_floor(self._paged_to, self.table.selected_job)
        started = app.monotonic()
        try:
            page = await read_window(self._list_jobs, where, floor, below)
        except ActionFailed as exc:
            if generation == self._generation:
                return self._failed(str(exc))
            return None
        if generation != self._generation:
            return None  # a new filter came meanwhile; the poller reads again at once
        self._failures, self._error = 0, None
        if below:
            self._below = 0
        if (below or self._paged_to is not None) and page.jobs:
            self._paged_to = page.jobs[-1].id
        app.pending.jobs.confirm({str(j.id): j for j in page.jobs}, started, app.monotonic())
        self.page = page
        self._kinds_seen.update(j.kind for j in page.jobs)
        await self._read_causes(where, generation)
        self.repaint()
        return None

    @property
    def failures_view(self) -> bool:
        return self.where.states == FAILURES and self.where.state is None

    async def _read_causes(self, where: JobFilter, generation: int) -> None:
        if not self.failures_view:
            self.causes = None
            return
        now = self.pqw.monotonic()
        if now - self._causes_read_at < CAUSES_EVERY:
            return
        try:
            causes = await self.pqw.feed.read(lambda admin: read_causes(admin, where.queue))
        except ActionFailed as exc:
            self.notify(str(exc), title="Causes not read", severity="error", markup=False)
            return
        if generation == self._generation:
            self.causes, self._causes_read_at = causes, now

    def _failed(self, message: str) -> float:
        self._failures += 1
        if message != self._error:
            self.notify(message, title="Jobs not read", severity="error", markup=False)
        self._error = message
        self.repaint()
        return backoff_delay(self._failures)

    # ------------------------------------------------------------------
    # Painting
    # ------------------------------------------------------------------

    @guarded
    def _paint(self) -> None:
        if not self._ready:
            return
        self._dirty = False
        app = self.pqw
        panel = self.query_one("#jobs-panel", Vertical)
        queue = self.where.queue
        # Text, never markup: queues, kinds and searches are whatever users typed.
        title = f"Jobs in {queue}" if queue is not None else "Jobs in every queue"
        if self.where.states == FAILURES and self.where.state is None:
            title = "Failures in every queue" if queue is None else f"Failures in {queue}"
        search = search_line(self.where)
        if search:
            title += f" · {fmt.one_line(search, 60)}"
        panel.border_title = Text(title)
        self.query_one(FilterBar).show(self.where)
        jobs = self.page.jobs if self.page is not None else []
        self.table.show(jobs, app.display_now(), app.pending.jobs.labels(), self.palette)
        panel.border_subtitle = Text(self._summary())
        causes = self.query_one(CausesTable)
        causes.paint(self.failures_view, self.causes, app.display_now(), self.palette)
        empty = self.page is not None and not jobs
        panel.set_class(empty, "-empty")
        if empty:
            self.query_one("#jobs-empty", Static).update(Text(f"No {describe_filter(self.where)}."))

    def _summary(self) -> str:
        marked = len(self.table.marked)
        summary = self._page_summary()
        if marked:
            summary = f"{marked} marked (X T D act on them) · {summary}"
        return summary

    def _page_summary(self) -> str:
        if self._error is not None:
            return f"⚠ not refreshed: {self._error}"
        if self.page is None:
            return "reading…"
        n = len(self.page.jobs)
        if self._below:
            return f"{n} shown · reading more…"
        if self.page.more:
            return f"newest {n} · m or ↓ at the end for more"
        return f"{n} job{'s' if n != 1 else ''}" if n else "no jobs"

    # ------------------------------------------------------------------
    # Filters and paging
    # ------------------------------------------------------------------

    def set_filter(self, where: JobFilter) -> None:
        """Show the jobs `where` selects, from the newest, at once."""
        if where == self.where:
            return
        if where.queue != self.where.queue or where.states != self.where.states:
            self.causes, self._causes_read_at = None, -math.inf
        self.where = where
        self._generation += 1
        self.page, self._paged_to, self._below, self._error = None, None, 0, None
        self.table.show([], self.pqw.display_now(), {}, self.palette)
        # A new list starts at its newest job, not at the old cursor's index.
        self.table.move_cursor(row=0, animate=False)
        self._paint()
        self.poller.now()

    def action_state(self, name: str) -> None:
        state = None if name == "all" else JobState(name)
        self.set_filter(replace(self.where, state=state))

    def action_filter_kind(self) -> None:
        self.query_one(KindFilter).open(search_line(self.where), self._kinds_seen)

    @guarded
    def on_kind_filter_chosen(self, message: KindFilter.Chosen) -> None:
        self.table.focus()
        try:
            where = parse_search(message.kind or "", self.where)
        except SearchError as exc:
            self.notify(str(exc), title="Search not understood", severity="error", markup=False)
            return
        self.set_filter(where)

    def action_failures(self) -> None:
        """Failures across queues: retryable and discarded, newest first, by cause."""
        self.set_filter(JobFilter(states=FAILURES))

    @guarded
    def on_causes_table_chosen(self, message: CausesTable.Chosen) -> None:
        """Enter on a cause: the failures of that kind."""
        self.set_filter(replace(self.where, kind=message.kind))
        self.table.focus()

    def action_bulk(self, action: str) -> None:
        self.pqw.job_actions.bulk(action, self.where, sorted(self.table.marked))

    def on_jobs_table_marks_changed(self) -> None:
        self._paint()

    def on_kind_filter_closed(self) -> None:
        self.table.focus()

    def action_more(self) -> None:
        if self.page is None or self._below:
            return
        if not self.page.more:
            self.notify(
                f"All {len(self.page.jobs)} {describe_filter(self.where)} are shown",
                timeout=3,
                markup=False,
            )
            return
        self._below = PAGE
        self._paint()
        self.poller.now()

    @guarded
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # Reaching the last row (arrows, end, pgdn) reads the next page, as scrolling would.
        table = self.table
        if event.data_table is table and table.cursor_row == table.row_count - 1:
            self._more_at_end()

    @guarded
    def on_jobs_table_reached_end(self) -> None:
        self._more_at_end()

    def _more_at_end(self) -> None:
        if self.page is not None and self.page.more and not self._below:
            self.action_more()

    # ------------------------------------------------------------------
    # A job
    # ------------------------------------------------------------------

    def find_job(self, job_id: int) -> Job | None:
        jobs = self.page.jobs if self.page is not None else []
        return next((j for j in jobs if j.id == job_id), None)

    def selected_job(self) -> Job | None:
        job_id = self.table.selected_job
        return self.find_job(job_id) if job_id is not None else None

    @guarded
    def on_jobs_table_action_requested(self, message: JobsTable.ActionRequested) -> None:
        job = self.find_job(message.job_id)
        if job is None:
            return
        if message.action == "open":
            self.app.push_screen(JobScreen(job))
        else:
            self.pqw.job_actions.request(message.action, job)

    def action_back(self) -> None:
        self.dismiss(None)
