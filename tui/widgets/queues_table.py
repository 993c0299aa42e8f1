"""Queues × job states: how many jobs wait, run and finished, how late and how failing, per queue."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from engine.admin import QueueCounts
from tui import formatting as fmt
from tui.data.pending import CONCURRENCY, PAUSE
from tui.formatting import DISPLAY_STATES
from tui.palette import Palette
from tui.widgets.keyed_table import Cell, KeyedTable

_SHORT = ("avail", "sched", "run", "retry", "done", "cancel", "discard")


def _right(label: str) -> Text:
    return Text(label, justify="right")


class QueuesTable(KeyedTable):
    COLUMNS = (
        ("queue", "Queue"),
        ("status", "Status"),
        *((state.value, _right(state.value)) for state in DISPLAY_STATES),
        ("latency", _right("Latency")),
        ("failures", _right("Failed 5m")),
        ("slots", _right("Slots")),
    )
    NARROW_COLUMNS = (
        ("queue", "Queue"),
        ("status", "Status"),
        *(
            (state.value, _right(short))
            for state, short in zip(DISPLAY_STATES, _SHORT, strict=True)
        ),
        ("latency", _right("Wait")),
        ("failures", _right("Fail")),
        ("slots", _right("Slots")),
    )
    NARROW_BELOW = 120
    # What an operator can do without at 80 columns: finished work first.
    DROP_FIRST = ("cancelled", "slots", "completed", "scheduled", "failures")

    WRITES = frozenset({"toggle_pause", "concurrency"})

    BINDINGS = [
        Binding(
            "space",
            "toggle_pause",
            "Pause/resume queue",
            tooltip="Pause or resume the selected queue",
        ),
        Binding("P", "toggle_pause", "Pause/resume queue", show=False),
        Binding("enter", "open_jobs", "Jobs", tooltip="List the selected queue's jobs"),
        Binding(
            "c",
            "concurrency",
            "Slots",
            tooltip="Set the queue's concurrency per client, live (every client within a second)",
        ),
    ]

    class ActionRequested(Message):
        """The operator asked for `action` ("toggle" pause, "jobs", "concurrency") on `queue`."""

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

    def action_concurrency(self) -> None:
        self._request("concurrency")

    def show(
        self,
        queues: list[QueueCounts],
        pending: Mapping[tuple[str, str], str],
        palette: Palette,
    ) -> None:
        self.sync({q.queue: queue_cells(q, pending, palette) for q in queues})


def failure_cell(q: QueueCounts, palette: Palette) -> Text:
    rate = q.failure_rate
    if rate is None:
        return Text(fmt.NONE, style=palette.muted, justify="right")
    style = palette.bad if rate >= 0.2 else palette.warn if q.failed_recently else palette.muted
    return Text(f"{rate:.0%}", style=style, justify="right")


def queue_cells(
    q: QueueCounts, pending: Mapping[tuple[str, str], str], palette: Palette
) -> list[Cell]:
    change = pending.get((q.queue, PAUSE))
    if change is not None:
        status = Text(change, style=palette.pending)
    elif q.paused:
        status = Text("⏸ paused", style="bold " + palette.warn)
    else:
        status = Text("▶ live", style=palette.good)
    cells: list[Cell] = [Text(q.queue, style="bold"), status]
    for state in DISPLAY_STATES:
        n = q.counts.get(state, 0)
        style = palette.muted if n == 0 else ""
        if state.value in ("retryable", "discarded") and n:
            style = palette.warn if state.value == "retryable" else palette.bad
        cells.append(Text(fmt.job_count(n), style=style, justify="right"))
    latency = q.latency
    cells.append(
        Text(
            fmt.duration(latency),
            style=palette.warn if latency is not None and latency >= 60 else "",
            justify="right",
        )
    )
    cells.append(failure_cell(q, palette))
    slots_change = pending.get((q.queue, CONCURRENCY))
    if slots_change is not None:
        cells.append(Text(slots_change, style=palette.pending, justify="right"))
    elif q.concurrency is not None:
        cells.append(Text(f"{q.concurrency} set", style="bold", justify="right"))
    else:
        cells.append(Text("code", style=palette.muted, justify="right"))
    return cells
