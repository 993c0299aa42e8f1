"""A worker's runs as a timeline, newest first: how each ended, how long it ran, where."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from engine.admin import WorkerRun
from tui import formatting as fmt
from tui.palette import Palette
from tui.widgets.keyed_table import Cell, KeyedTable

# How a run ended, as a glyph (the word follows it).
GLYPHS = {
    None: "▶",
    "returned": "✔",
    "stop": "■",
    "restart": "↻",
    "config": "↻",
    "cancel": "■",
    "shutdown": "○",
    "crash": "✖",
    "lease lost": "⚠",
    "rescued": "⇄",
}


def ending_style(reason: str | None, palette: Palette) -> str:
    if reason is None:
        return palette.good
    if reason in ("crash", "lease lost", "rescued"):
        return palette.bad
    if reason in ("stop", "cancel", "shutdown"):
        return palette.muted
    return palette.busy


def run_cells(run: WorkerRun, now: datetime, palette: Palette) -> list[Cell]:
    glyph = GLYPHS.get(run.end_reason, "?")
    ended = fmt.ago((now - run.ended_at).total_seconds()) if run.ended_at else fmt.NONE
    return [
        Text(f"#{run.run}", style="bold", justify="right"),
        Text(f"{glyph} {run.how}", style=ending_style(run.end_reason, palette)),
        Text(fmt.duration(run.duration), justify="right"),
        Text(run.where),
        Text(ended, style="dim"),
        Text(f"v{run.config_version}", justify="right"),
    ]


def run_note(run: WorkerRun, now: datetime) -> Text:
    """The line under the timeline: the chosen run in full, its error if it had one."""
    line = Text.assemble(
        (f"#{run.run}", "bold"),
        f" {run.how} · started {fmt.ago((now - run.started_at).total_seconds())}",
        f" on {run.client_id} · job {run.job_id}",
    )
    if run.error:
        line.append(" · ")
        line.append(run.error, style="bold")
    return line


class RunsTable(KeyedTable):
    COLUMNS = (
        ("run", Text("Run", justify="right")),
        ("how", "How it ended"),
        ("lasted", Text("Lasted", justify="right")),
        ("where", "On"),
        ("ended", "Ended"),
        ("config", Text("Cfg", justify="right")),
    )

    def show(self, runs: list[WorkerRun], now: datetime, palette: Palette) -> None:
        rows = {str(r.run): run_cells(r, now, palette) for r in runs}
        with self.app.batch_update():
            self.sync(rows)
            # sync adds a new run at the bottom; newest first puts it on top.
            if [row.key.value for row in self.ordered_rows] != list(rows):
                selected = self.selected_key
                self.sort("run", key=lambda cell: -int(cell.plain.lstrip("#")))
                if selected is not None and selected in rows:
                    self.move_cursor(row=self.get_row_index(selected), animate=False)
