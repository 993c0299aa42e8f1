"""One queue's jobs, newest first: state, attempts, when, args, the last error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from engine.admin import FINAL_STATES, Job, JobState
from tui import formatting as fmt
from tui.data.pending import JOB
from tui.palette import Palette
from tui.widgets.keyed_table import Cell, KeyedTable


def state_style(state: JobState, palette: Palette) -> str:
    return {
        JobState.AVAILABLE: palette.busy,
        JobState.SCHEDULED: "",
        JobState.RUNNING: palette.good,
        JobState.RETRYABLE: palette.warn,
        JobState.COMPLETED: palette.muted,
        JobState.CANCELLED: palette.muted,
        JobState.DISCARDED: palette.bad,
        JobState.PENDING: palette.muted,
    }[state]


def job_when(job: Job, now: datetime) -> str:
    """The one time that matters in the job's state: when it runs, began, or ended."""
    if job.state is JobState.RUNNING and job.attempted_at is not None:
        return "started " + fmt.ago((now - job.attempted_at).total_seconds())
    if job.state in FINAL_STATES:
        if job.finalized_at is None:
            return fmt.NONE
        return "ended " + fmt.ago((now - job.finalized_at).total_seconds())
    return fmt.until((job.scheduled_at - now).total_seconds())


def last_error(job: Job) -> str | None:
    return str(job.errors[-1].get("error", "")) if job.errors else None


class JobsTable(KeyedTable):
    COLUMNS = (
        ("mark", " "),
        ("id", Text("ID", justify="right")),
        ("kind", "Kind"),
        ("state", "State"),
        ("attempt", Text("Try", justify="right")),
        ("created", "Created"),
        ("when", "When"),
        ("error", "Last error"),
        ("args", "Args"),
    )
    DROP_FIRST = ("created", "attempt", "error")
    FLEX = "args"

    WRITES = frozenset({"request:cancel", "request:retry", "request:delete", "toggle_mark"})

    BINDINGS = [
        Binding("enter", "request('open')", "Open", tooltip="The job's args, errors and times"),
        Binding("space", "toggle_mark", "Mark", tooltip="Mark the job for X, T and D (bulk)"),
        Binding("x", "request('cancel')", "Cancel", tooltip="Cancel the job (asks first)"),
        Binding("t", "request('retry')", "Retry", tooltip="Run the job again now"),
        Binding("d", "request('delete')", "Delete", tooltip="Delete the job (asks first)"),
        # A list read page by page: home and end go to its first and last row.
        Binding("home", "scroll_top", "First", show=False, tooltip="The newest job"),
        Binding(
            "end", "scroll_bottom", "Last", show=False, tooltip="The oldest job read (reads more)"
        ),
    ]

    class MarksChanged(Message):
        """Jobs were marked or unmarked."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.marked: set[int] = set()

    def action_toggle_mark(self) -> None:
        job_id = self.selected_job
        if job_id is None:
            return
        self.marked ^= {job_id}
        self.post_message(self.MarksChanged())
        if self.cursor_row < self.row_count - 1:
            self.move_cursor(row=self.cursor_row + 1, animate=False)

    class ReachedEnd(Message):
        """The list was scrolled to its bottom (wheel or scrollbar): time for older jobs."""

    class ActionRequested(Message):
        """The operator asked for `action` ("open", "cancel", "retry", "delete") on a job."""

        def __init__(self, action: str, job_id: int) -> None:
            super().__init__()
            self.action = action
            self.job_id = job_id

    def action_request(self, action: str) -> None:
        job_id = self.selected_job
        if job_id is None:
            self.notify("No job selected", severity="warning")
            return
        self.post_message(self.ActionRequested(action, job_id))

    def show(
        self,
        jobs: Sequence[Job],
        now: datetime,
        pending: Mapping[tuple[str, str], str],
        palette: Palette,
    ) -> None:
        # A mark outlives the row only while the row is listed.
        self.marked &= {j.id for j in jobs}
        rows = {
            str(j.id): job_cells(
                j, now, pending.get((str(j.id), JOB)), palette, j.id in self.marked
            )
            for j in jobs
        }
        with self.app.batch_update():
            self.sync(rows)
            # sync adds new rows at the bottom; newest first puts them on top.
            if [row.key.value for row in self.ordered_rows] != list(rows):
                selected = self.selected_key
                self.sort("id", key=lambda cell: -int(cell.plain))
                if selected is not None and selected in rows:
                    self.move_cursor(row=self.get_row_index(selected), animate=False)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value > old_value and self.max_scroll_y > 0 and new_value >= self.max_scroll_y:
            self.post_message(self.ReachedEnd())

    @property
    def selected_job(self) -> int | None:
        key = self.selected_key
        return int(key) if key is not None else None


def job_cells(
    job: Job, now: datetime, change: str | None, palette: Palette, marked: bool = False
) -> list[Cell]:
    if change is not None:
        state = Text(change, style=palette.pending)
    else:
        state = Text(f"● {job.state}", style=state_style(job.state, palette))
    error = last_error(job)
    return [
        Text("●" if marked else " ", style="bold " + palette.warn),
        Text(str(job.id), justify="right", style="bold"),
        Text(job.kind),
        state,
        Text(f"{job.attempt}/{job.max_attempts}", justify="right"),
        Text(fmt.ago((now - job.created_at).total_seconds())),
        Text(job_when(job, now)),
        Text(fmt.one_line(error, 48), style=palette.bad if error else ""),
        Text(fmt.json_line(job.args, 200)),
    ]
