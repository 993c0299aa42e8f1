"""A bulk action under way: batch after batch, with progress, until done or cancelled."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import ProgressBar, Static

from engine.admin import BulkStep
from tui.data.feed import ActionFailed

# One batch, given where the last one ended (None: from the newest job).
RunBatch = Callable[[int | None], Awaitable[BulkStep]]


@dataclass
class BulkOutcome:
    acted: int = 0
    skipped: int = 0
    cancelled: bool = False
    error: str | None = None


class BulkModal(ModalScreen[BulkOutcome]):
    """Runs `batch` until it says nothing is left; escape stops after the batch under way
    (each batch is its own transaction, so what was done stays done)."""

    BINDINGS = [Binding("escape", "stop", "Stop", tooltip="Stop after the current batch")]

    def __init__(self, title: str, total: int | None, batch: RunBatch, verb: str) -> None:
        super().__init__(id="bulk")
        self._title = title
        self._total = total
        self._batch = batch
        self._verb = verb
        self.outcome = BulkOutcome()
        self._stop = False

    def compose(self) -> ComposeResult:
        with Vertical(id="bulk-dialog") as dialog:
            dialog.border_title = self._title
            dialog.border_subtitle = "esc stop"
            yield ProgressBar(total=self._total, show_eta=False, id="bulk-progress")
            yield Static(id="bulk-status")

    def on_mount(self) -> None:
        self.run_worker(self._run(), exit_on_error=False, group="bulk")

    def _show(self) -> None:
        done = self.outcome.acted + self.outcome.skipped
        self.query_one(ProgressBar).update(progress=done)
        self.query_one("#bulk-status", Static).update(
            Text(f"{self.outcome.acted:,} {self._verb}, {self.outcome.skipped:,} left as they were")
        )

    async def _run(self) -> None:
        below: int | None = None
        while not self._stop:
            try:
                step = await self._batch(below)
            except ActionFailed as exc:
                self.outcome.error = str(exc)
                break
            self.outcome.acted += step.acted
            self.outcome.skipped += step.skipped
            self._show()
            if step.next_below is None:
                break
            below = step.next_below
        self.outcome.cancelled = self._stop
        self.dismiss(self.outcome)

    def action_stop(self) -> None:
        self._stop = True
        self.query_one("#bulk-status", Static).update(Text("stopping after this batch…"))
