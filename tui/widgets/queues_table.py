"""Queues × job states: how many jobs wait, run and finished, per queue."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from engine.admin import QueueCounts
from tui import formatting as fmt
from tui.data.pending import PAUSE
from tui.formatting import DISPLAY_STATES
from tui.palette import Palette
from tui.widgets.keyed_table import Cell, KeyedTable


class QueuesTable(KeyedTable):
    COLUMNS = (
        ("queue", "Queue"),
        *((state.value, Text(state.value, justify="right")) for state in DISPLAY_STATES),
    )

    NARROW_COLUMNS = (
        ("queue", "Queue"),
        *(
            (state.value, Text(short, justify="right"))
            for state, short in zip(
                DISPLAY_STATES,
                ("avail", "sched", "running", "retry", "compl", "cancel", "discard"),
                strict=True,
            )
        ),
    )
    NARROW_BELOW = 95

    BINDINGS = [
        Binding(
            "space",
            "toggle_pause",
            "Pause/resume queue",
            tooltip="Pause or resume the selected queue",
        ),
        Binding("P", "toggle_pause", "Pause/resume queue", show=False),
        Binding("enter", "open_jobs", "Jobs", tooltip="List the selected queue's jobs"),
    ]

    class ActionRequested(Message):
        """The operator asked for `action` ("toggle" pause, "jobs") on `queue`."""

        def __init__(self, action: str, queue: str) -> None:
            super().__init__()
            self.action = action
            self.queue = queue

    def _request(self, action: str) -> None:
        name = self.selected_key
        if name is None:
            self.notify("No queue selected", severity="warning")
            return
        self.post_message(self.ActionRequested(action, name))

    def action_toggle_pause(self) -> None:
        self._request("toggle")

    def action_open_jobs(self) -> None:
        self._request("jobs")

    def show(
        self,
        queues: list[QueueCounts],
        pending: Mapping[tuple[str, str], str],
        palette: Palette,
    ) -> None:
        self.sync({q.queue: queue_cells(q, pending.get((q.queue, PAUSE)), palette) for q in queues})


def queue_cells(q: QueueCounts, change: str | None, palette: Palette) -> list[Cell]:
    name = Text(q.queue, style="bold")
    if change is not None:
        name.append(f" {change}", style=palette.pending)
    elif q.paused:
        name.append(" paused", style="bold " + palette.warn)
    cells: list[Cell] = [name]
    for state in DISPLAY_STATES:
        n = q.counts.get(state, 0)
        estimated = state in q.estimated
        style = palette.muted if n == 0 else ""
        if state.value in ("retryable", "discarded") and n:
            style = palette.warn if state.value == "retryable" else palette.bad
        cells.append(Text(fmt.job_count(n, estimated), style=style, justify="right"))
    return cells
