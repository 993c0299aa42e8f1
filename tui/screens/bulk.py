"""A bulk action under way: batch after batch, with progress, until done or cancelled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import ProgressBar, Static

from engine.admin import BatchPace, BulkBatchTooSlow, BulkStep
from tui.data.feed import ActionFailed

# One batch of at most `size` jobs, given where the last one ended (None: from the newest).
RunBatch = Callable[[int | None, int], Awaitable[BulkStep]]


def stopped_for_time(exc: ActionFailed) -> bool:
    """The batch changed nothing because it ran out of time (the database's bound, or
    the dashboard's own call timeout): a smaller one may pass."""
    return isinstance(exc.__cause__, BulkBatchTooSlow | TimeoutError)


@dataclass
class BulkOutcome:
    acted: int = 0
    skipped: int = 0
    cancelled: bool = False
    error: str | None = None


class BulkModal(ModalScreen[BulkOutcome]):
    """Runs `batch` until it says nothing is left; escape stops after the batch under way
    (each batch is its own transaction, so what was done stays done). A slow batch makes
    the next smaller, and one stopped for time is tried again at half the size."""

    BINDINGS = [Binding("escape", "stop", "Stop", tooltip="Stop after the current batch")]

    def __init__(self, title: str, total: int | None, batch: RunBatch, verb: str) -> None:
        super().__init__(id="bulk")
        self._title = title
        self._total = total
        self._batch = batch
        self._verb = verb
        self.outcome = BulkOutcome()
        self.pace = BatchPace()
        self._stop = False
        self._current: asyncio.Future[BulkStep] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="bulk-dialog") as dialog:
            dialog.border_title = Text(self._title)  # never markup, whatever it names
            dialog.border_subtitle = "esc stop"
            yield ProgressBar(total=self._total, show_eta=False, id="bulk-progress")
            yield Static(id="bulk-status")

    def on_mount(self) -> None:
        self.run_worker(self._run(), exit_on_error=False, group="bulk")

    def _show(self) -> None:
        done = self.outcome.acted + self.outcome.skipped
        self.query_one(ProgressBar).update(progress=done)
        status = f"{self.outcome.acted:,} {self._verb}, {self.outcome.skipped:,} left as they were"
        if self.pace.size < self.pace.most:
            status += f" · batches of {self.pace.size:,} (the database is slow)"
        self.query_one("#bulk-status", Static).update(Text(status))

    async def _run(self) -> None:
        below: int | None = None
        while not self._stop:
            started = time.monotonic()
            self._current = asyncio.ensure_future(self._batch(below, self.pace.size))
            await asyncio.wait({self._current})
            if self._current.cancelled():  # esc twice: its transaction rolled back
                break
            try:
                step = self._current.result()
            except ActionFailed as exc:
                if stopped_for_time(exc) and self.pace.shrink():
                    self._show()
                    continue  # the same batch, smaller
                self.outcome.error = str(exc)
                break
            self.pace.took(time.monotonic() - started)
            self.outcome.acted += step.acted
            self.outcome.skipped += step.skipped
            self._show()
            if step.next_below is None:
                break
            below = step.next_below
        self.outcome.cancelled = self._stop
        self.dismiss(self.outcome)

    def action_stop(self) -> None:
        if self._stop and self._current is not None:
            self._current.cancel()  # the batch under way changes nothing
            return
        self._stop = True
        self.query_one("#bulk-status", Static).update(
            Text("stopping after this batch… (esc again: stop it now, it changes nothing)")
        )
