"""The jobs screen's state keys in one line, the chosen state lit, and the kind filter's key."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.admin import JobState
from tui.data.jobs_window import JobFilter
from tui.formatting import DISPLAY_STATES

# The state each digit key picks; 0 is every state.
STATE_KEYS: dict[str, JobState | None] = {
    "0": None,
    **{str(n): state for n, state in enumerate(DISPLAY_STATES, start=1)},
}
SHORT_NAMES = {
    JobState.AVAILABLE: "avail",
    JobState.SCHEDULED: "sched",
    JobState.RUNNING: "run",
    JobState.RETRYABLE: "retry",
    JobState.COMPLETED: "done",
    JobState.CANCELLED: "cancel",
    JobState.DISCARDED: "discard",
}
# Below this width the state names are shortened so the line fits 80 columns.
NARROW_BELOW = 110


def filter_text(where: JobFilter, narrow: bool) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for key, state in STATE_KEYS.items():
        name = "all" if state is None else (SHORT_NAMES[state] if narrow else state.value)
        chosen = state == where.state
        text.append(key, style="bold reverse" if chosen else "bold")
        text.append(f" {name}", style="bold reverse" if chosen else "dim")
        text.append("  ")
    text.append("/", style="bold")
    text.append(" kind" if where.kind is None else " kind ✓", style="dim")
    return text


class FilterBar(Static):
    def __init__(self, where: JobFilter, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.where = where

    def show(self, where: JobFilter) -> None:
        self.where = where
        self.refresh()

    def render(self) -> Text:
        return filter_text(self.where, self.size.width < NARROW_BELOW)
