"""Every key of the dashboard, for the help screen, read from the bindings themselves."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from textual.binding import Binding, BindingType

from tui.screens.help import HelpScreen, HelpSection, KeyHelp
from tui.screens.reconfigure import ReconfigureScreen
from tui.widgets.queues_table import QueuesTable
from tui.widgets.workers_table import WorkersTable

KeyDisplay = Callable[[Binding], str]


def key_lines(bindings: Sequence[BindingType], display: KeyDisplay) -> list[KeyHelp]:
    """One line per action, its keys joined: ("s / space", "Start or stop ...")."""
    by_action: dict[str, tuple[list[str], str]] = {}
    for binding in bindings:
        if not isinstance(binding, Binding):
            continue
        what = binding.tooltip or binding.description
        keys, _ = by_action.setdefault(binding.action, ([], what))
        for key in binding.key.split(","):
            shown = display(replace(binding, key=key.strip()))
            if shown not in keys:
                keys.append(shown)
    return [(" / ".join(keys), what) for keys, what in by_action.values()]


def help_sections(app_bindings: Sequence[BindingType], display: KeyDisplay) -> list[HelpSection]:
    return [
        (
            "Anywhere",
            [
                *key_lines(app_bindings, display),
                ("ctrl+p", "Command palette: every action, by name"),
                ("tab / shift+tab", "Move between the tables"),
                ("↑ ↓ pgup pgdn", "Move the cursor in a table"),
            ],
        ),
        ("Persistent workers table", key_lines(WorkersTable.BINDINGS, display)),
        ("Queues table", key_lines(QueuesTable.BINDINGS, display)),
        ("Reconfigure dialog", key_lines(ReconfigureScreen.BINDINGS, display)),
        ("This help", key_lines(HelpScreen.BINDINGS, display)),
    ]
