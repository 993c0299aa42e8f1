"""Ask for one value (a queue's concurrency, a schedule): saved through the engine, which
checks it; a refused value is shown here and changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from tui.data.feed import ActionFailed

Save = Callable[[str], Awaitable[Any]]


class PromptModal(ModalScreen[Any]):
    """Dismissed with what `save` returned, or None when the operator left it be."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="Close, nothing changed")]

    def __init__(self, title: str, about: str, value: str, save: Save) -> None:
        super().__init__(id="prompt")
        self._title = title
        self._about = about
        self._value = value
        self._save = save

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-dialog") as dialog:
            dialog.border_title = Text(self._title)  # names a queue or schedule: never markup
            dialog.border_subtitle = "enter save · esc cancel"
            yield Static(Text(self._about), id="prompt-about")
            yield Input(self._value, id="prompt-input")
            yield Static(id="prompt-error")

    def on_mount(self) -> None:
        self.query_one("#prompt-error", Static).display = False
        self.query_one(Input).focus()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.run_worker(self._submit(event.value), exit_on_error=False, group="prompt")

    async def _submit(self, value: str) -> None:
        error = self.query_one("#prompt-error", Static)
        try:
            result = await self._save(value)
        except (ActionFailed, ValueError) as exc:
            error.update(Text(str(exc)))
            error.display = True
            return
        self.dismiss(result)

    def action_cancel(self) -> None:
        self.dismiss(None)
