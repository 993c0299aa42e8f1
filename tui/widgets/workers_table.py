"""Persistent workers: status, where each runs, liveness, restarts, errors, progress."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from engine.admin import LIVE_RUN_STATUSES, WorkerInfo, WorkerStatus
from tui import formatting as fmt
from tui.data.pending import CONFIG, RUN
from tui.palette import Palette
from tui.widgets.keyed_table import Cell, KeyedTable

_HEARTBEATING = (WorkerStatus.RUNNING, WorkerStatus.LATE, WorkerStatus.STOPPING)
_HAS_UPTIME = LIVE_RUN_STATUSES


def heartbeat_age(worker: WorkerInfo, now: datetime) -> float | None:
    if worker.last_heartbeat is None:
        return None
    return (now - worker.last_heartbeat).total_seconds()


def live_status(worker: WorkerInfo, now: datetime) -> WorkerStatus:
    """The engine's status, turned stale at once when the heartbeat outlives its timeout.

    The engine judged the heartbeat at the last refresh; between refreshes the
    display clock moves on, and a heartbeat that has since gone quiet is stale now.
    (Late is the engine's word only: the display clock running on between reads
    would make every heartbeat look late just before the next read.)
    """
    age = heartbeat_age(worker, now)
    if worker.status in _HEARTBEATING and age is not None and age > worker.heartbeat_timeout:
        return WorkerStatus.STALE
    return worker.status


class WorkersTable(KeyedTable):
    COLUMNS = (
        ("name", "Worker"),
        ("status", "Status"),
        ("where", "Runs on"),
        ("heartbeat", Text("Heartbeat", justify="right")),
        ("uptime", Text("Uptime", justify="right")),
        ("restarts", Text("Restarts", justify="right")),
        ("progress", "Progress"),
        ("error", "Last error"),
    )

    # At 80 columns the status, the liveness and the last error matter most.
    DROP_FIRST = ("progress", "uptime", "where", "restarts")
    FLEX = "error"

    WRITES = frozenset({"toggle_run", "restart", "reconfigure"})

    BINDINGS = [
        Binding("s", "toggle_run", "Start/stop", tooltip="Start or stop the selected worker"),
        Binding("space", "toggle_run", "Start/stop", show=False),
        Binding("r", "restart", "Restart", tooltip="End the current run and start a new one"),
        Binding("c", "reconfigure", "Config", tooltip="Edit the worker's config as JSON"),
        Binding("enter", "open", "Open", tooltip="Open the worker: its state, runs, log, configs"),
    ]

    class ActionRequested(Message):
        """The operator asked for `action` ("toggle", "restart", "reconfigure", "open")
        on `worker`."""

        def __init__(self, action: str, worker: str) -> None:
            super().__init__()
            self.action = action
            self.worker = worker

    def _request(self, action: str) -> None:
        name = self.selected_key
        if name is None:
            self.notify("No persistent worker selected", severity="warning")
            return
        self.post_message(self.ActionRequested(action, name))

    def action_toggle_run(self) -> None:
        self._request("toggle")

    def action_restart(self) -> None:
        self._request("restart")

    def action_reconfigure(self) -> None:
        self._request("reconfigure")

    def action_open(self) -> None:
        self._request("open")

    def show(
        self,
        workers: list[WorkerInfo],
        now: datetime,
        pending: Mapping[tuple[str, str], str],
        palette: Palette,
    ) -> None:
        self.sync({w.name: worker_cells(w, now, pending, palette) for w in workers})


def worker_cells(
    w: WorkerInfo,
    now: datetime,
    pending: Mapping[tuple[str, str], str],
    palette: Palette,
) -> list[Cell]:
    status = live_status(w, now)
    run_change = pending.get((w.name, RUN))
    config_change = pending.get((w.name, CONFIG))
    if run_change is not None:
        status_cell = Text(run_change, style=palette.pending)
    elif config_change is not None:
        status_cell = Text(f"config {config_change}", style=palette.pending)
    else:
        status_cell = Text(f"● {status}", style=palette.status(status))
    # Why it backs off goes with the last error, not the status: a status column as
    # wide as "backing-off ends at once ×4" pushed the last error off at 120 columns.
    ending = ending_note(w, status, crashes=False)  # a crash: see its last error
    error_cell = Text(fmt.one_line(w.last_error, 200), style=palette.bad if w.last_error else "")
    if ending:
        error_cell = Text(ending, style=palette.warn).append_text(
            Text(f" · {error_cell.plain}", style=palette.bad) if w.last_error else Text()
        )
    age = heartbeat_age(w, now) if status in _HAS_UPTIME else None
    uptime = (
        (now - w.run_started_at).total_seconds()
        if status in _HAS_UPTIME and w.run_started_at is not None
        else None
    )
    heartbeat_style = {WorkerStatus.STALE: palette.bad, WorkerStatus.LATE: palette.warn}.get(
        status, ""
    )
    return [
        Text(w.name, style="bold" if w.enabled else palette.muted),
        status_cell,
        Text(w.where or fmt.NONE),
        Text(fmt.age(age), style=heartbeat_style, justify="right"),
        Text(fmt.duration(uptime), justify="right"),
        Text(str(w.restarts), justify="right", style=palette.warn if w.restarts else ""),
        Text(fmt.progress(w.progress, 24)),
        error_cell,
    ]


def ending_note(w: WorkerInfo, status: WorkerStatus, *, crashes: bool = True) -> str:
    """Why a worker backs off, in a few words: "ends at once ×3" (its handler keeps
    returning by itself), "crashed ×2"."""
    if status is not WorkerStatus.BACKING_OFF or w.consecutive_failures <= 0:
        return ""
    if w.keeps_ending:
        return f"ends at once ×{w.consecutive_failures}"
    if crashes and w.last_end_reason == "crash":
        return f"crashed ×{w.consecutive_failures}"
    return ""
