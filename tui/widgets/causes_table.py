"""Failures by cause: failed jobs grouped by kind and the first line of their last error."""

from __future__ import annotations

import json
from datetime import datetime

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget

from engine.admin import FailureGroup
from tui import formatting as fmt
from tui.data.causes import Causes
from tui.palette import Palette
from tui.widgets.keyed_table import Cell, KeyedTable


def cause_key(group: FailureGroup) -> str:
    return json.dumps([group.kind, group.error])


class CausesTable(KeyedTable):
    COLUMNS = (
        ("jobs", Text("Jobs", justify="right")),
        ("kind", "Kind"),
        ("error", "Last error"),
        ("retryable", Text("Retryable", justify="right")),
        ("discarded", Text("Discarded", justify="right")),
        ("queues", "Queues"),
        ("last", Text("Last failed", justify="right")),
    )
    DROP_FIRST = ("queues", "retryable", "discarded")
    FLEX = "error"

    BINDINGS = [
        Binding("enter", "choose", "Only this kind", tooltip="List only this kind's failures"),
    ]

    class Chosen(Message):
        def __init__(self, kind: str) -> None:
            super().__init__()
            self.kind = kind

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._kinds: dict[str, str] = {}

    def show(self, groups: list[FailureGroup], now: datetime, palette: Palette) -> None:
        self._kinds = {cause_key(g): g.kind for g in groups}
        self.sync({cause_key(g): cause_cells(g, now, palette) for g in groups})

    def paint(self, shown: bool, causes: Causes | None, now: datetime, palette: Palette) -> None:
        """Show `causes` (None: not read yet) in the panel around this table, if `shown`."""
        panel = self.parent
        if not isinstance(panel, Widget):
            return
        panel.display = shown
        if causes is not None:
            panel.border_title = Text(causes.title())
            self.show(causes.groups, now, palette)
        elif shown:
            panel.border_title = Text("Causes · reading…")

    def action_choose(self) -> None:
        key = self.selected_key
        if key is not None and key in self._kinds:
            self.post_message(self.Chosen(self._kinds[key]))


def cause_cells(g: FailureGroup, now: datetime, palette: Palette) -> list[Cell]:
    return [
        Text(f"{g.jobs:,}", justify="right", style="bold"),
        Text(g.kind),
        Text(g.error or fmt.NONE, style=palette.bad),
        Text(f"{g.retryable:,}", justify="right", style=palette.warn if g.retryable else ""),
        Text(f"{g.discarded:,}", justify="right", style=palette.bad if g.discarded else ""),
        Text(" ".join(g.queues)),
        Text(fmt.age((now - g.last_failed_at).total_seconds()), justify="right"),
    ]
