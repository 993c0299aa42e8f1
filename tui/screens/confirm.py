"""Ask before destroying anything: dismissed with True to go ahead, False to leave it be."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmationModal(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "confirm", "Yes", tooltip="Go ahead"),
        Binding("n,escape", "decline", "No", tooltip="Leave it as it is"),
    ]

    def __init__(self, title: str, question: str, confirm_label: str) -> None:
        super().__init__(id="confirm")
        self._title = title
        self._question = question
        self._confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog") as dialog:
            dialog.border_title = Text(self._title)  # may name a worker: never markup
            dialog.border_subtitle = "y yes · n / esc no"
            yield Static(Text(self._question), id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                yield Button(self._confirm_label, variant="error", id="confirm-yes", compact=True)
                # The safe answer has the focus: a stray enter changes nothing.
                yield Button("Keep it", id="confirm-no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_decline(self) -> None:
        self.dismiss(False)
