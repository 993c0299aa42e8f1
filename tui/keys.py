"""Every key of the dashboard, for the help screen, read from the bindings themselves."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from textual.binding import Binding, BindingType

from tui.screens.confirm import ConfirmationModal
from tui.screens.help import HelpScreen, HelpSection, KeyHelp
from tui.screens.job import JobScreen
from tui.screens.jobs import JobsScreen
from tui.screens.reconfigure import ReconfigureScreen
from tui.screens.worker import WorkerScreen
from tui.widgets.filter_bar import STATE_KEYS
from tui.widgets.jobs_table import JobsTable
from tui.widgets.kind_filter import KindFilter
from tui.widgets.log_tail import LogSearch
from tui.widgets.queues_table import QueuesTable
from tui.widgets.schedules_table import SchedulesTable
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


def state_keys_line() -> KeyHelp:
    """The eight state keys of the jobs list as one line."""
    states = ", ".join(f"{k} {s or 'all'}" for k, s in STATE_KEYS.items())
    return (f"0…{len(STATE_KEYS) - 1}", f"Jobs in one state: {states}")


def jobs_list_keys(display: KeyDisplay) -> list[KeyHelp]:
    screen_keys = [b for b in JobsScreen.BINDINGS if not _is_state_key(b)]
    return [
        *key_lines(JobsTable.BINDINGS, display),
        *key_lines(screen_keys, display),
        state_keys_line(),
    ]


def _is_state_key(binding: BindingType) -> bool:
    return isinstance(binding, Binding) and binding.action.startswith("state(")


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
        ("Schedules table", key_lines(SchedulesTable.BINDINGS, display)),
        ("Jobs list (enter on a queue)", jobs_list_keys(display)),
        (
            "Kind prompt (/ in the jobs list)",
            [
                ("enter", "Show only jobs of the kind typed (empty: every kind)"),
                ("→", "Take the kind offered (kinds on screen)"),
                *key_lines(KindFilter.BINDINGS, display),
            ],
        ),
        ("Job view (enter on a job)", key_lines(JobScreen.BINDINGS, display)),
        (
            "Worker view (enter on a worker)",
            [
                *key_lines(WorkerScreen.BINDINGS, display),
                ("tab", "Move between the runs, the state, the config versions and the log"),
                ("↑ pgup home", "In the log: scroll back (stops following)"),
            ],
        ),
        ("Log search (/ in the worker view)", key_lines(LogSearch.BINDINGS, display)),
        ("Confirmation", key_lines(ConfirmationModal.BINDINGS, display)),
        ("Reconfigure dialog", key_lines(ReconfigureScreen.BINDINGS, display)),
        ("This help", key_lines(HelpScreen.BINDINGS, display)),
    ]
