"""A worker's state (its last checkpoint) as highlighted JSON, cut to a screenful."""

from __future__ import annotations

import json
from datetime import datetime

from rich.console import Group, RenderableType
from rich.highlighter import JSONHighlighter
from rich.text import Text
from textual.widgets import Static

from engine.admin import WorkerState
from tui import formatting as fmt

# A state is shown up to this many lines of pretty JSON (a checkpoint may be 256 KiB).
SHOWN_LINES = 200


def byte_size(size: int) -> str:
    """ "812 B", "14.2 KiB"."""
    if size < 1024:
        return f"{size} B"
    return f"{size / 1024:.1f} KiB"


def state_caption(state: WorkerState | None, now: datetime) -> str:
    """The panel's subtitle: which checkpoint, how big, how old."""
    if state is None:
        return "reading…"
    if not state.checkpointed:
        if state.reset_at is not None:
            return f"reset by {state.reset_by} {fmt.ago((now - state.reset_at).total_seconds())}"
        return "never checkpointed"
    age = (now - state.checkpointed_at).total_seconds() if state.checkpointed_at else None
    return f"checkpoint {state.version} · {byte_size(state.size)} · {fmt.ago(age)}"


_highlight = JSONHighlighter()


def pretty_lines(value: object) -> list[str]:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str).splitlines()


def state_renderable(state: WorkerState | None, lines: list[str] | None) -> RenderableType:
    """The JSON, highlighted (as data, never markup), and what was cut."""
    if state is None:
        return Text("reading…", style="dim")
    if not state.checkpointed:
        return Text(
            "No state: the next run starts with ctx.state = None.\n"
            "A handler keeps one with `await ctx.checkpoint({...})`.",
            style="dim",
        )
    shown = (lines or [])[:SHOWN_LINES]
    body = _highlight(Text("\n".join(shown), no_wrap=True, overflow="ellipsis"))
    more = len(lines or []) - len(shown)
    if more <= 0:
        return body
    return Group(body, Text(f"… {more:,} more lines ({byte_size(state.size)} in all)", style="dim"))


class StateView(Static):
    """Re-renders only when the state's version changes (pretty-printing 256 KiB is not free)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text("reading…", style="dim"), id=id)
        self._shown: tuple[int, bool] | None = None

    def show(self, state: WorkerState | None) -> None:
        key = (state.version, state.checkpointed) if state is not None else None
        if key == self._shown:
            return
        self._shown = key
        lines = pretty_lines(state.state) if state is not None and state.checkpointed else None
        self.update(state_renderable(state, lines))
