"""One persistent worker in full (enter on a worker): liveness and the current run, its
state, its runs as a timeline, its config versions with what each changed, and its log
tailed live; the same actions as the main screen, and a reset of its state."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Static

from engine.admin import WorkerInfo
from tui.actions.worker_state import reset_worker_state
from tui.data.feed import ActionFailed, Missing, backoff_delay
from tui.data.pending import CONFIG, RUN
from tui.data.poller import Poller
from tui.data.worker_view import WorkerView
from tui.guard import guarded
from tui.palette import Palette
from tui.screens.live import LiveScreen
from tui.widgets.banner import Banner
from tui.widgets.config_versions import ConfigVersionsTable, version_diff
from tui.widgets.log_tail import LogSearch, LogTail
from tui.widgets.runs_table import RunsTable, run_note
from tui.widgets.state_view import StateView, state_caption
from tui.widgets.status_bar import StatusBar
from tui.widgets.worker_summary import WorkerSummary


class WorkerScreen(LiveScreen):
    AUTO_FOCUS = "#log"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Read-only: start/stop, restart, config and reset are hidden (and refused);
        # the worker's story stays open to read.
        return not (self.pqw.read_only and action in frozenset({"request", "reset_state"}))

    BINDINGS = [
        Binding("s", "request('toggle')", "Start/stop", tooltip="Start or stop the worker"),
        Binding("r", "request('restart')", "Restart", tooltip="End the run and start a new one"),
        Binding("c", "request('reconfigure')", "Config", tooltip="Edit the config as JSON"),
        Binding("x", "reset_state", "Reset state", tooltip="Forget the state (asks first)"),
        Binding("f", "follow", "Follow", tooltip="Follow the log's newest lines, or stop"),
        Binding("slash", "search", "Search", key_display="/", tooltip="Search the log"),
        Binding("escape", "back", "Back", tooltip="Back to the dashboard"),
    ]

    def __init__(self, name: str) -> None:
        super().__init__(id="worker-screen")
        self.worker_name = name
        self.view = WorkerView(name)
        self.gone = False  # deleted since it was opened
        self._failures = 0
        self._error: str | None = None
        self._logged_seq: int | None = None  # the newest line written to the tail
        self._log_palette: Palette | None = None
        self._shown: dict[str, object] = {}  # what each Static shows, by id
        self.poller = Poller(self, self._read, self._interval, "worker")

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Banner(id="banner")
        with Vertical(id="worker-summary-panel", classes="panel") as panel:
            panel.border_title = Text(f"Worker {self.worker_name}")
            yield WorkerSummary(id="worker-summary")
        with Horizontal(id="worker-middle"):
            with Vertical(id="runs-panel", classes="panel") as panel:
                panel.border_title = "Runs, newest first"
                yield RunsTable(id="runs")
                yield Static(id="run-note")
            with Vertical(id="worker-right"):
                with VerticalScroll(id="state-panel", classes="panel") as panel:
                    panel.border_title = "State"
                    yield StateView(id="state")
                with Vertical(id="configs-panel", classes="panel") as panel:
                    panel.border_title = "Config versions"
                    yield ConfigVersionsTable(id="config-versions")
                    yield Static(id="config-diff")
        with Vertical(id="log-panel", classes="panel"):
            yield LogTail(id="log")
            yield LogSearch(id="log-search")
        yield Footer()

    @property
    def log_tail(self) -> LogTail:
        return self.query_one(LogTail)

    @property
    def worker(self) -> WorkerInfo | None:
        detail = self.view.detail
        return detail.worker if detail is not None else None

    def mounted(self) -> None:
        self.query_one(LogSearch).display = False
        self._paint()
        self.poller.now()

    def on_screen_resume(self) -> None:
        if self.gone:
            self.dismiss(None)
            return
        self.paint_if_dirty()
        self.poller.resume()

    def _interval(self) -> float | None:
        rate = self.pqw.rate
        return None if rate.paused or self.gone else rate.seconds

    # ------------------------------------------------------------------
    # Reading
    # ------------------------------------------------------------------

    async def _read(self) -> float | None:
        app, view, name = self.pqw, self.view, self.worker_name
        known, after, limit = view.state_version, view.last_seq, view.lines_to_read
        try:
            detail = await app.feed.read(
                lambda admin: admin.worker_detail(
                    name, state_version=known, log_after=after, log_limit=limit
                )
            )
        except Missing:
            self._gone()
            return None
        except ActionFailed as exc:
            self._failures += 1
            if str(exc) != self._error:
                self.notify(str(exc), title="Worker not read", severity="error", markup=False)
            self._error = str(exc)
            self.repaint()
            return backoff_delay(self._failures)
        self._failures, self._error = 0, None
        view.merge(detail)
        self.repaint()
        return None

    def _gone(self) -> None:
        self.gone = True
        self.notify(
            f"Persistent worker {self.worker_name} no longer exists", title="Worker", markup=False
        )
        if self.is_current:
            self.dismiss(None)

    # ------------------------------------------------------------------
    # Painting
    # ------------------------------------------------------------------

    @guarded
    def _paint(self) -> None:
        if not self._ready or not self.app.is_running:
            return  # (shutting down: a read that ended late finds the widgets gone)
        self._dirty = False
        detail = self.view.detail
        summary = self.query_one("#worker-summary-panel", Vertical)
        summary.border_subtitle = Text(f"⚠ not refreshed: {self._error}") if self._error else ""
        if detail is None:
            self.query_one(WorkerSummary).update(Text("reading…", style="dim"))
            return
        app, palette, now, w = self.pqw, self.palette, self.pqw.display_now(), detail.worker
        labels = app.pending.workers.labels()
        change = labels.get((w.name, RUN))
        if change is None and (config := labels.get((w.name, CONFIG))) is not None:
            change = f"config {config}"
        with app.batch_update():
            summary_text = self.query_one(WorkerSummary).text(w, now, change, palette)
            self._update(self.query_one(WorkerSummary), summary_text, layout=False)
            runs = self.query_one(RunsTable)
            runs.show(detail.runs, now, palette)
            self._paint_run_note()
            self.query_one(StateView).show(detail.state)
            state_panel = self.query_one("#state-panel", VerticalScroll)
            state_panel.border_subtitle = Text(state_caption(detail.state, now))
            self.query_one(ConfigVersionsTable).show(detail.configs, now, w.config_version)
            self._paint_diff()
            self._paint_log(palette)

    def _update(self, static: Static, content: Text, *, layout: bool = True) -> None:
        """Show `content` unless it is shown already: an update lays the screen out anew,
        and this screen is painted several times a second."""
        key = static.id or ""
        if self._shown.get(key) != content:
            self._shown[key] = content
            static.update(content, layout=layout)

    def _paint_run_note(self) -> None:
        detail, note = self.view.detail, self.query_one("#run-note", Static)
        runs = detail.runs if detail is not None else []
        key = self.query_one(RunsTable).selected_key
        chosen = next((r for r in runs if str(r.run) == key), None)
        if chosen is None:
            self._update(note, Text("No runs recorded yet." if not runs else "", style="dim"))
            return
        self._update(note, run_note(chosen, self.pqw.display_now()), layout=False)

    def _paint_diff(self) -> None:
        detail, diff = self.view.detail, self.query_one("#config-diff", Static)
        version = self.query_one(ConfigVersionsTable).selected_version
        if detail is None or version is None:
            self._update(diff, Text("No config versions kept." if detail else "", style="dim"))
            return
        self._update(diff, version_diff(detail.configs, version, self.palette))

    def _paint_log(self, palette: Palette) -> None:
        tail, view = self.log_tail, self.view
        if palette != self._log_palette:
            self._rewrite_log(palette)
        else:
            last = self._logged_seq
            tail.add((x for x in view.log if last is None or x.seq > last), palette)
            self._logged_seq = view.last_seq
        panel = self.query_one("#log-panel", Vertical)
        panel.border_title = Text(self._log_title())
        panel.border_subtitle = "f follow · / search · ↑ pgup scroll back"

    def _rewrite_log(self, palette: Palette) -> None:
        """Write every line held again (a new search, a new theme)."""
        self._log_palette = palette
        self.log_tail.show_all(self.view.log, palette)
        self._logged_seq = self.view.last_seq

    def _log_title(self) -> str:
        tail = self.log_tail
        how = "following" if tail.following else "paused: f follows"
        if not self.view.log:
            return f"Log · {how} · no lines yet (logging and ctx.log inside a run land here)"
        if tail.search:
            found = f"{tail.shown} of {len(self.view.log)} lines match {tail.search!r}"
            return f"Log · {how} · {found} (/ empty: all)"
        gap = " · lines were skipped: more came than one read takes" if self.view.gap else ""
        return f"Log · {how} · {len(self.view.log)} lines{gap}"

    @guarded
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self.query_one(RunsTable):
            self._paint_run_note()
        elif event.data_table is self.query_one(ConfigVersionsTable):
            self._paint_diff()

    # ------------------------------------------------------------------
    # Keys
    # ------------------------------------------------------------------

    def action_request(self, action: str) -> None:
        if self.gone:
            return
        self.pqw.cluster_actions.request_worker(action, self.worker_name)

    def action_reset_state(self) -> None:
        if not self.gone:
            reset_worker_state(self.pqw, self.worker_name, done=self.poller.now)

    def action_follow(self) -> None:
        tail = self.log_tail
        tail.set_following(not tail.following)
        self._paint_log(self.palette)

    def action_search(self) -> None:
        self.query_one(LogSearch).open(self.log_tail.search)

    @guarded
    def on_log_search_chosen(self, message: LogSearch.Chosen) -> None:
        tail = self.log_tail
        tail.search = message.search
        tail.focus()
        self._rewrite_log(self.palette)
        self._paint_log(self.palette)

    def on_log_search_closed(self) -> None:
        self.log_tail.focus()

    def on_log_tail_following_changed(self) -> None:
        self._paint_log(self.palette)

    def action_back(self) -> None:
        self.dismiss(None)
