"""Every key, grouped by where it works."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KeyHelp = tuple[str, str]  # (key as shown, what it does)
HelpSection = tuple[str, Sequence[KeyHelp]]


def help_table(sections: Sequence[HelpSection]) -> Group:
    """Each section a heading over its keys; the key column is as wide in every section."""
    key_width = max((len(key) for _, keys in sections for key, _ in keys), default=1)
    parts: list[RenderableType] = []
    for i, (title, keys) in enumerate(sections):
        parts.append(Text(("\n" if i else "") + title, style="bold underline"))
        table = Table.grid(padding=(0, 2))
        table.add_column(justify="right", style="bold", no_wrap=True, min_width=key_width + 2)
        table.add_column()
        for key, what in keys:
            table.add_row(key, what)
        parts.append(table)
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,q", "close", "Close help", tooltip="Close this help"),
    ]

    def __init__(self, sections: Sequence[HelpSection]) -> None:
        super().__init__(id="help")
        self._sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog") as dialog:
            dialog.border_title = "Keys"
            dialog.border_subtitle = "esc or ? to close"
            yield Static(help_table(self._sections), id="help-keys")

    def action_close(self) -> None:
        self.dismiss(None)
