"""Jobs running for a long time (River's recipe: a periodic job whose handler loops), with
their lease: how long each has run, its heartbeat against its timeout, and where."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from engine.admin import RunningJobInfo
from tui import formatting as fmt
from tui.palette import Palette
from tui.widgets.keyed_table import Cell, KeyedTable


class LongRunningTable(KeyedTable):
    COLUMNS = (
        ("id", Text("ID", justify="right")),
        ("kind", "Kind"),
        ("queue", "Queue"),
        ("where", "Runs on"),
        ("running", Text("Running", justify="right")),
        ("heartbeat", Text("Heartbeat / timeout", justify="right")),
        ("schedule", "Schedule"),
    )
    DROP_FIRST = ("schedule", "queue", "where")

    BINDINGS = [Binding("enter", "open", "Open", tooltip="The job's args, errors and times")]

    class Open(Message):
        """Open the job view of a long-running job."""

        def __init__(self, info: RunningJobInfo) -> None:
            super().__init__()
            self.info = info

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._infos: dict[str, RunningJobInfo] = {}

    def action_open(self) -> None:
        key = self.selected_key
        if key is None:
            self.notify("No job selected", severity="warning")
            return
        self.post_message(self.Open(self._infos[key]))

    def show(self, jobs: list[RunningJobInfo], now: datetime, palette: Palette) -> None:
        self._infos = {str(info.job.id): info for info in jobs}
        self.sync({key: running_cells(info, now, palette) for key, info in self._infos.items()})


def running_cells(info: RunningJobInfo, now: datetime, palette: Palette) -> list[Cell]:
    job = info.job
    # Ages move on with the display clock between refreshes.
    ran = (now - job.attempted_at).total_seconds() if job.attempted_at else None
    beat = (now - job.heartbeat_at).total_seconds() if job.heartbeat_at else None
    timeout = info.heartbeat_timeout
    stale = beat is not None and timeout is not None and beat > timeout
    heartbeat = f"{fmt.age(beat)} / {fmt.duration(timeout)}"
    if stale:
        heartbeat = "✖ stale " + heartbeat
    return [
        Text(str(job.id), justify="right", style="bold"),
        Text(job.kind),
        Text(job.queue),
        Text(info.where or fmt.NONE),
        Text(fmt.duration(ran), justify="right"),
        Text(heartbeat, justify="right", style="bold " + palette.bad if stale else ""),
        Text(info.periodic_id or fmt.NONE, style="" if info.periodic_id else palette.muted),
    ]
