"""A worker's log, tailed live: follows new lines (f), searches (/) with matches marked."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input, RichLog

from engine.admin import WorkerLogLine
from tui.palette import Palette
from tui.widgets.prompt_line import PromptLine

# Logger names are padded (or cut) to this width, so every message starts in one column.
LOGGER_WIDTH = 11


def logger_column(name: str) -> str:
    """The logger's name in LOGGER_WIDTH cells: a longer one keeps its end, the most
    specific part ("…eds.poller" for "app.integrations.feeds.poller")."""
    if cell_len(name) <= LOGGER_WIDTH:
        return set_cell_size(name, LOGGER_WIDTH)
    end = name
    while cell_len(end) > LOGGER_WIDTH - 1:  # cells, not characters: wide ones count two
        end = end[1:]
    return set_cell_size("…" + end, LOGGER_WIDTH)


_LEVELS = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARN",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRIT",
}


def level_style(level: int, palette: Palette) -> str:
    if level >= logging.ERROR:
        return "bold " + palette.bad
    if level >= logging.WARNING:
        return palette.warn
    if level < logging.INFO:
        return palette.muted
    return ""


def log_line(line: WorkerLogLine, palette: Palette, search: str | None = None) -> Text:
    """ "09:26:41 INFO  app.feed  polled 14 items": data, never markup; matches marked."""
    level = _LEVELS.get(line.level, line.level_name[:5])
    ours = line.logger == "pqw"  # pqw's own lines: a run started, a run ended, lines dropped
    text = Text.assemble(
        (f"{line.at.astimezone(UTC):%H:%M:%S} ", "dim"),
        (f"{level:<5} ", level_style(line.level, palette)),
        (f"{logger_column(line.logger)} ", palette.busy if ours else "dim"),
    )
    indent = " " * len(text.plain)
    message = Text(line.message.replace("\n", "\n" + indent), style="bold" if ours else "")
    text.append_text(message)
    if search:
        text.highlight_words([search], style="reverse " + palette.warn, case_sensitive=False)
    return text


def matches(line: WorkerLogLine, search: str | None) -> bool:
    if not search:
        return True
    needle = search.casefold()
    return needle in line.message.casefold() or needle in line.logger.casefold()


class LogTail(RichLog):
    """The lines, newest at the bottom; while following, the view stays on the newest."""

    # Scrolling back stops following (f follows again), as in `less +F`.
    BINDINGS = [
        Binding("up", "back('scroll_up')", show=False),
        Binding("pageup", "back('page_up')", show=False),
        Binding("home", "back('scroll_home')", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=2_000, min_width=40, wrap=True, auto_scroll=True)
        self.following = True
        self.search: str | None = None
        self.shown = 0  # lines on screen (matching the search, if any)

    def add(self, lines: Iterable[WorkerLogLine], palette: Palette) -> None:
        for line in lines:
            if matches(line, self.search):
                self.write(log_line(line, palette, self.search), scroll_end=self.following)
                self.shown += 1

    def show_all(self, lines: Iterable[WorkerLogLine], palette: Palette) -> None:
        """Write every line again (the search changed, or the theme)."""
        self.clear()
        self.shown = 0
        self.add(lines, palette)
        if self.following:
            self.scroll_end(animate=False)

    def set_following(self, following: bool) -> None:
        self.following = following
        self.auto_scroll = following
        if following:
            self.scroll_end(animate=False)

    class FollowingChanged(Message):
        """The operator scrolled back: the tail no longer follows."""

    def action_back(self, how: str) -> None:
        if self.following:
            self.set_following(False)
            self.post_message(self.FollowingChanged())
        getattr(self, f"action_{how}")()


class LogSearch(PromptLine):
    """The `/` prompt over the log: enter searches (empty: every line), escape leaves it."""

    BINDINGS = [Binding("escape", "close", "Cancel", tooltip="Close the search, unchanged")]

    class Chosen(Message):
        def __init__(self, search: str | None) -> None:
            super().__init__()
            self.search = search

    class Closed(Message):
        """The prompt closed without a change."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="search the log (empty: every line)", id=id, compact=True)

    def open(self, search: str | None) -> None:
        self.value = search or ""
        self.display = True
        self.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Chosen(event.value.strip() or None))

    def action_close(self) -> None:
        self.close_now()
        self.post_message(self.Closed())
